"""Databases over HTTP: listing, schemas read from the engines, whitelisted IPs and the
client-address check they impose, and registering databases through /remote_hosts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from civica.db.models import RemoteHostRow
from civica.services import databases
from civica.services.errors import Forbidden
from tests.conftest import PG_ENV, LiveServer

PG_SECRET = "hunter2-not-to-be-seen"


def _pg_url() -> str:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"needs a PostgreSQL server to register as a database: set {PG_ENV}")
    return base


def test_every_user_sees_the_embedded_database(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    _, key = live.new_user()
    with live.client(key) as c:
        r = c.get("/databases")
        assert r.status_code == 200, r.text
        dbs = r.json()
        assert [d["name"] for d in dbs] == [databases.EMBEDDED_NAME]
        db = dbs[0]
        assert db["adapter"] == "duckdb" and db["managed"] is True
        assert db["databaseName"] == "warehouse.duckdb" and db["host"] is None
        assert "X-Pagination-Per-Page" not in r.headers  # not paged: clients read it all
        assert c.get(f"/databases/{db['id']}").json() == db
        r = c.get("/databases/99999")
        assert r.status_code == 404 and "GET /databases" in r.json()["errorDescription"]
    assert admin.get("/databases").json() == dbs


def test_list_schemas_of_the_embedded_duckdb(live: LiveServer) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        db = c.get("/databases").json()[0]["id"]
        r = c.get(f"/databases/{db}/schemas")
        assert r.status_code == 200, r.text
        names = [s["schema"] for s in r.json()]
        assert {"public", "main"} <= set(names)
        assert "information_schema" not in names and names == sorted(names)
        r = c.get(f"/databases/{db}/schemas", params={"name": "PUB"})
        assert [s["schema"] for s in r.json()] == ["public"]
        assert c.get("/databases/424242/schemas").status_code == 404


def test_list_schemas_with_a_credential(live: LiveServer) -> None:
    _, key = live.new_user()
    _, other = live.new_user()
    with live.client(key) as c:
        db = c.get("/databases").json()[0]["id"]
        mine = c.get("/credentials", params={"type": "Database", "default": "True"}).json()[0]
        r = c.get(f"/databases/{db}/schemas", params={"credential_id": mine["id"]})
        assert r.status_code == 200
        custom = c.post(
            "/credentials", json={"type": "Custom", "username": "u", "password": "p"}
        ).json()["id"]
        r = c.get(f"/databases/{db}/schemas", params={"credential_id": custom})
        assert r.status_code == 400 and "Database credential" in r.json()["errorDescription"]
    with live.client(other) as c:
        r = c.get(f"/databases/{db}/schemas", params={"credential_id": mine["id"]})
        assert r.status_code == 404


def test_whitelist_crud_and_validation(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    db = admin.get("/databases").json()[0]["id"]
    r = admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "10.0.0.0/8"})
    assert r.status_code == 200, r.text
    rule = r.json()
    assert rule["subnetMask"] == "10.0.0.0/8" and rule["remoteHostId"] == db
    assert rule["authorizedBy"] == "admin" and rule["isActive"] is True
    assert rule["securityGroupId"] and rule["createdAt"].endswith("Z")
    r = admin.post(f"/databases/{db}/whitelist-ips", json={"subnetMask": "192.168.7.9"})
    assert r.json()["subnetMask"] == "192.168.7.9/32"
    r = admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "2001:db8::/32"})
    assert r.status_code == 200 and r.json()["subnetMask"] == "2001:db8::/32"
    listed = admin.get(f"/databases/{db}/whitelist-ips").json()
    assert [x["subnetMask"] for x in listed] == ["10.0.0.0/8", "192.168.7.9/32", "2001:db8::/32"]
    assert "authorizedBy" not in listed[0]
    assert admin.get(f"/databases/{db}/whitelist-ips/{rule['id']}").json() == rule
    for bad, says in [
        ("10.0.0.300/8", "CIDR block"),
        ("not-an-ip", "CIDR block"),
        ("10.0.0.0/33", "CIDR block"),
        ("10.1.2.3/8", "did you mean 10.0.0.0/8"),
    ]:
        r = admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": bad})
        assert r.status_code == 400, bad
        assert (
            says in r.json()["errorDescription"] and "subnet_mask" in r.json()["errorDescription"]
        )
    r = admin.post(f"/databases/{db}/whitelist-ips", json={})
    assert r.status_code == 400 and "subnet_mask is required" in r.json()["errorDescription"]
    r = admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "10.0.0.0/8"})
    assert r.status_code == 409 and "already whitelisted" in r.json()["errorDescription"]
    assert (
        admin.post("/databases/9999/whitelist-ips", json={"subnet_mask": "1.2.3.4"}).status_code
        == 404
    )
    _, key = live.new_user()
    with live.client(key) as c:
        r = c.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "1.2.3.4"})
        assert r.status_code == 403 and "manage permission" in r.json()["errorDescription"]
        assert c.delete(f"/databases/{db}/whitelist-ips/{rule['id']}").status_code == 403
        assert len(c.get(f"/databases/{db}/whitelist-ips").json()) == 3
    r = admin.delete(f"/databases/{db}/whitelist-ips/{rule['id']}")
    assert r.status_code == 204 and r.content == b""
    assert admin.get(f"/databases/{db}/whitelist-ips/{rule['id']}").status_code == 404
    assert admin.delete(f"/databases/{db}/whitelist-ips/{rule['id']}").status_code == 404
    assert len(admin.get(f"/databases/{db}/whitelist-ips").json()) == 2


def test_whitelists_restrict_who_can_reach_a_database(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    db = admin.get("/databases").json()[0]["id"]
    _, key = live.new_user()
    with live.client(key) as c:
        assert c.get(f"/databases/{db}/schemas").status_code == 200
        rule = admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "10.0.0.0/8"})
        r = c.get(f"/databases/{db}/schemas")
        assert r.status_code == 403
        assert "127.0.0.1" in r.json()["errorDescription"]
        assert "whitelist-ips" in r.json()["errorDescription"]
        assert admin.get(f"/databases/{db}/schemas").status_code == 403  # admins too
        local = admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "127.0.0.1/32"})
        assert c.get(f"/databases/{db}/schemas").status_code == 200
        admin.delete(f"/databases/{db}/whitelist-ips/{local.json()['id']}")
        assert c.get(f"/databases/{db}/schemas").status_code == 403
        admin.delete(f"/databases/{db}/whitelist-ips/{rule.json()['id']}")
        assert c.get(f"/databases/{db}/schemas").status_code == 200


def test_check_client_address(live: LiveServer) -> None:
    with live.platform.transaction() as s:
        row = databases.embedded_database(s)
        assert row is not None
        databases.check_client_address(s, row, "203.0.113.9")  # no rules: anyone
        for subnet in ("10.0.0.0/8", "2001:db8::/32"):
            s.add(
                databases.WhitelistIpRow(
                    remote_host_id=row.id,
                    subnet_mask=subnet,
                    security_group_id="sg",
                    authorized_by_id=row.owner_id,
                )
            )
        s.flush()
        for allowed in ("10.1.2.3", "::ffff:10.9.9.9", "2001:db8::1"):
            databases.check_client_address(s, row, allowed)
        for refused in ("11.0.0.1", "127.0.0.1", "2001:db9::1", None, "garbage"):
            with pytest.raises(Forbidden):
                databases.check_client_address(s, row, refused)
        for rule in s.scalars(
            databases.select(databases.WhitelistIpRow).where(
                databases.WhitelistIpRow.remote_host_id == row.id
            )
        ):
            rule.is_active = False
        s.flush()
        databases.check_client_address(s, row, "127.0.0.1")  # revoked rules restrict nothing


def test_remote_hosts_admin_only_and_validated(live: LiveServer, admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    file_url = f"duckdb:///{tmp_path / 'extra.duckdb'}"
    _, key = live.new_user()
    with live.client(key) as c:
        r = c.post(
            "/remote_hosts",
            json={"name": "x", "url": file_url, "type": "RemoteHostTypes::DuckDB"},
        )
        assert r.status_code == 403 and "only admins" in r.json()["errorDescription"]
    r = admin.post(
        "/remote_hosts", json={"name": "extra", "url": file_url, "type": "RemoteHostTypes::DuckDB"}
    )
    assert r.status_code == 200, r.text
    host = r.json()
    assert host["type"] == "RemoteHostTypes::DuckDB" and host["user"]["username"] == "admin"
    assert host["myPermissionLevel"] == "manage"
    with live.client(key) as c:
        assert c.get(f"/remote_hosts/{host['id']}").json()["myPermissionLevel"] == "read"
        assert [h["name"] for h in c.get("/remote_hosts").json()][:2] == ["civica", "extra"]
        r = c.get("/remote_hosts", params={"type": "RemoteHostTypes::DuckDB"})
        assert len(r.json()) == 2
        assert c.get("/remote_hosts", params={"type": "RemoteHostTypes::Postgres"}).json() == []
        assert c.get("/remote_hosts", params={"type": "nope"}).status_code == 400
        assert c.get("/remote_hosts/9999").status_code == 404
        r = c.get(f"/databases/{host['id']}/schemas")
        assert r.status_code == 200 and [s["schema"] for s in r.json()] == ["main"]
    r = admin.post(
        "/remote_hosts",
        json={
            "name": "pg-query-login",
            "url": f"jdbc:postgresql://db.invalid:5432/d?user=u&password={PG_SECRET}",
            "type": "RemoteHostTypes::JDBC",
        },
    )
    assert r.status_code == 200, r.text
    assert PG_SECRET not in r.text and r.json()["type"] == "RemoteHostTypes::JDBC"
    assert PG_SECRET not in admin.get("/remote_hosts").text
    assert PG_SECRET not in admin.get("/databases").text
    for body, status, says in [
        ({"name": "extra", "url": file_url, "type": "RemoteHostTypes::DuckDB"}, 409, "exists"),
        ({"name": "y", "url": "nonsense", "type": "RemoteHostTypes::JDBC"}, 400, "not a database"),
        ({"name": "y", "url": "https://x", "type": "RemoteHostTypes::Github"}, 400, "only"),
        ({"name": "y", "url": "postgresql://h/d", "type": "RemoteHostTypes::DuckDB"}, 400, "match"),
        ({"name": "y", "url": "postgresql://h/d", "type": "Postgres"}, 400, "must be one of"),
        ({"name": "", "url": "postgresql://h/d", "type": "RemoteHostTypes::Postgres"}, 400, "name"),
    ]:
        r = admin.post("/remote_hosts", json=body)
        assert r.status_code == status, (body, r.text)
        assert says in r.json()["errorDescription"], r.text


def test_register_postgresql_and_list_its_schemas(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    base = make_url(_pg_url())
    url = base.set(password=PG_SECRET).render_as_string(hide_password=False)
    r = admin.post(
        "/remote_hosts",
        json={"name": "pg", "url": url, "type": "RemoteHostTypes::Postgres", "description": "d"},
    )
    assert r.status_code == 200, r.text
    assert PG_SECRET not in r.text and "***" in r.json()["url"]
    pg = r.json()["id"]
    _, key = live.new_user()
    with live.client(key) as c:
        for path in ("/remote_hosts", f"/remote_hosts/{pg}", "/databases", f"/databases/{pg}"):
            r = c.get(path)
            assert r.status_code == 200 and PG_SECRET not in r.text, path
        described = c.get(f"/databases/{pg}").json()
        assert described["adapter"] == "postgresql" and described["managed"] is False
        assert described["host"] == (base.host or "127.0.0.1")
        assert described["databaseName"] == (base.database or "postgres")
        r = c.get(f"/databases/{pg}/schemas")
        assert r.status_code == 200, r.text
        assert "public" in [s["schema"] for s in r.json()]
        # With a credential of the caller's own for it, that login is used (and must work).
        r = c.post(
            "/credentials",
            json={
                "type": "Database",
                "username": "no_such_role_here",
                "password": PG_SECRET,
                "remote_host_id": pg,
            },
        )
        assert r.status_code == 200
        r = c.get(f"/databases/{pg}/schemas")
        assert r.status_code == 400 and "no_such_role_here" in r.json()["errorDescription"]
        assert PG_SECRET not in r.text
    with live.platform.transaction() as s:
        row = s.get(RemoteHostRow, pg)
        assert row is not None and PG_SECRET.encode() not in row.url_encrypted


def test_whitelists_apply_to_runs_started_by_a_request(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    """Starting a SQL script's run reaches its database for the caller: the caller's address
    must pass the whitelist, on every route that starts runs."""
    db = admin.get("/databases").json()[0]["id"]
    script = admin.post("/scripts/sql", json={"name": "w", "sql": "SELECT 1", "remote_host_id": db})
    assert script.status_code == 201, script.text
    sid = script.json()["id"]
    rule = admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "10.0.0.0/8"})
    for path in (f"/scripts/sql/{sid}/runs", f"/jobs/{sid}/runs"):
        r = admin.post(path)
        assert r.status_code == 403, (path, r.text)
        assert "whitelist-ips" in r.json()["errorDescription"]
    assert admin.get(f"/scripts/sql/{sid}/runs").json() == []  # nothing was queued
    admin.delete(f"/databases/{db}/whitelist-ips/{rule.json()['id']}")
    assert admin.post(f"/jobs/{sid}/runs").status_code in (201, 202)

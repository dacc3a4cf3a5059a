"""Credentials over HTTP: create, read, replace, list, the default Database credential,
authenticate against a real database, temporary key pairs. Passwords never leave the server."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from civica.db.models import CredentialRow, TemporaryCredentialRow
from civica.services import credentials, databases, users
from tests.conftest import PG_ENV, LiveServer

SECRET = "pa55-w0rd-never-shown-7f3a"


def _warehouse_pg_url() -> str:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"needs a PostgreSQL server to log in to: set {PG_ENV}")
    return base


def test_create_get_put_and_the_password_never_comes_back(live: LiveServer) -> None:
    uid, key = live.new_user("carla")
    with live.client(key) as c:
        r = c.post(
            "/credentials",
            json={"type": "Custom", "username": "carla-svc", "password": SECRET, "name": "svc"},
        )
        assert r.status_code == 200, r.text
        assert SECRET not in r.text
        cred = r.json()
        assert cred["name"] == "svc" and cred["type"] == "Custom"
        assert cred["owner"] == "carla" and cred["user"]["id"] == uid
        assert cred["remoteHostId"] is None and cred["default"] is False
        assert "password" not in cred and cred["createdAt"].endswith("Z")
        r = c.get(f"/credentials/{cred['id']}")
        assert r.status_code == 200 and SECRET not in r.text
        assert r.json()["username"] == "carla-svc"
        r = c.put(
            f"/credentials/{cred['id']}",
            json={"type": "Custom", "username": "carla2", "password": SECRET + "x"},
        )
        assert r.status_code == 200 and SECRET not in r.text
        assert r.json()["username"] == "carla2" and r.json()["name"] == "svc"
        r = c.get("/credentials")
        assert SECRET not in r.text and cred["id"] in [x["id"] for x in r.json()]
    with live.platform.transaction() as s:
        row = s.get(CredentialRow, cred["id"])
        assert row is not None
        assert SECRET.encode() not in row.password_encrypted
        assert live.platform.secrets.decrypt(row.password_encrypted) == SECRET + "x"


def test_name_defaults_to_username_and_camel_case_is_accepted(live: LiveServer) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        embedded = c.get("/databases").json()[0]["id"]
        r = c.post(
            "/credentials",
            json={
                "type": "database",
                "username": "dbuser",
                "password": "",
                "remoteHostId": embedded,
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "dbuser" and r.json()["type"] == "Database"
        assert r.json()["remoteHostName"] == databases.EMBEDDED_NAME


def test_credentials_are_private_to_their_owner(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    _, owner = live.new_user("owner")
    _, other = live.new_user("other")
    with live.client(owner) as c:
        cid = c.post(
            "/credentials", json={"type": "Custom", "username": "u", "password": SECRET}
        ).json()["id"]
    with live.client(other) as c:
        assert c.get(f"/credentials/{cid}").status_code == 404
        r = c.put(f"/credentials/{cid}", json={"type": "Custom", "username": "x", "password": "y"})
        assert r.status_code == 404 and "not found" in r.json()["errorDescription"]
        assert c.post(f"/credentials/{cid}/temporary", json={}).status_code == 404
        assert cid not in [x["id"] for x in c.get("/credentials").json()]
        assert {x["owner"] for x in c.get("/credentials").json()} == {"other"}
    assert admin.get(f"/credentials/{cid}").json()["owner"] == "owner"
    assert cid in [x["id"] for x in admin.get("/credentials").json()]


def test_every_user_has_one_default_database_credential(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    embedded = admin.get("/databases").json()[0]
    # The first admin got theirs when the embedded warehouse was registered at first start.
    with live.platform.transaction() as s:
        admin_row = users.get_user_by_name(session=s, username="admin")
        assert credentials._own_default(s, admin_row.id) is not None
    uid, key = live.new_user("dana")
    with live.client(key) as c:
        first = c.get("/credentials", params={"type": "Database", "default": "True"})
        assert first.status_code == 200, first.text
        assert len(first.json()) == 1
        d = first.json()[0]
        assert d["type"] == "Database" and d["default"] is True and d["owner"] == "dana"
        assert d["remoteHostId"] == embedded["id"] and d["username"] == "dana"
        again = c.get("/credentials", params={"type": "Database", "default": "true"}).json()
        assert [x["id"] for x in again] == [d["id"]]
        # Another Database credential can become the default; the old one stops being it.
        r = c.post(
            "/credentials",
            json={"type": "Database", "username": "dana_pg", "password": "p", "default": True},
        )
        assert r.status_code == 200 and r.json()["default"] is True
        new_id = r.json()["id"]
        now = c.get("/credentials", params={"type": "Database", "default": "True"}).json()
        assert [x["id"] for x in now] == [new_id]
        assert c.get(f"/credentials/{d['id']}").json()["default"] is False
        # Only Database credentials can be a default.
        r = c.post(
            "/credentials", json={"type": "Custom", "username": "x", "password": "p", "default": 1}
        )
        assert r.status_code == 400 and "only Database credentials" in r.json()["errorDescription"]
        # Unsetting the default falls back to the embedded warehouse's credential.
        r = c.put(
            f"/credentials/{new_id}",
            json={"type": "Database", "username": "dana_pg", "password": "p", "default": False},
        )
        assert r.json()["default"] is False
        back = c.get("/credentials", params={"type": "Database", "default": "True"}).json()
        assert [x["id"] for x in back] == [d["id"]]
        assert c.get("/credentials", params={"type": "Custom", "default": "True"}).json() == []
    with live.platform.transaction() as s:
        rows = s.scalars(
            select(CredentialRow).where(
                CredentialRow.owner_id == uid, CredentialRow.is_default.is_(True)
            )
        ).all()
        assert len(rows) == 1


def test_users_created_with_the_platform_secrets_get_their_default_at_once(
    live: LiveServer,
) -> None:
    with live.platform.transaction() as s:
        row = users.create_user(session=s, username="eager", secrets=live.platform.secrets)
        default = credentials._own_default(s, row.id)
        assert default is not None and default.type == "Database"
        assert default.remote_host_id == databases.embedded_database(s).id  # type: ignore[union-attr]


def test_list_filters_ordering_and_paging(live: LiveServer) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        for name, ctype in [("b", "Custom"), ("a", "Google"), ("c", "Amazon Web Services S3")]:
            r = c.post(
                "/credentials",
                json={"type": ctype, "username": name, "password": "p", "name": name},
            )
            assert r.status_code == 200, r.text
        r = c.get("/credentials", params={"type": "Custom,Google", "order": "name"})
        assert [x["name"] for x in r.json()] == ["b", "a"]  # default direction is desc
        r = c.get("/credentials", params={"type": "Custom, Google", "order_dir": "asc"})
        assert {x["type"] for x in r.json()} == {"Custom", "Google"}
        r = c.get("/credentials", params={"order": "name", "order_dir": "asc"})
        names = [x["name"] for x in r.json()]
        assert names == sorted(names) and len(names) == 4  # three + the default Database one
        assert r.headers["X-Pagination-Per-Page"] == "1000"
        pages = [
            c.get(
                "/credentials",
                params={"limit": 2, "page_num": n, "order": "created_at", "order_dir": "asc"},
            ).json()
            for n in (1, 2, 3)
        ]
        assert [len(p) for p in pages] == [2, 2, 0]
        embedded = c.get("/databases").json()[0]["id"]
        r = c.get("/credentials", params={"remote_host_id": embedded})
        assert [x["type"] for x in r.json()] == ["Database"]
        r = c.get("/credentials", params={"type": "Databse"})
        assert r.status_code == 400
        assert "'Databse'" in r.json()["errorDescription"]
        assert "Database" in r.json()["errorDescription"]
        r = c.get("/credentials", params={"limit": 1001})
        assert r.status_code == 400 and "1000" in r.json()["errorDescription"]
        r = c.get("/credentials", params={"order": "username"})
        assert r.status_code == 400 and "order must be one of" in r.json()["errorDescription"]


def test_bad_input_is_a_clear_4xx(live: LiveServer) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        r = c.post("/credentials", json={"type": "Custom", "username": "u"})
        assert r.status_code == 400 and "password is required" in r.json()["errorDescription"]
        r = c.post("/credentials", json={"type": "Nope", "username": "u", "password": SECRET})
        assert r.status_code == 400 and "type must be one of" in r.json()["errorDescription"]
        assert SECRET not in r.text
        r = c.post(
            "/credentials",
            json={"type": "Custom", "username": "u", "password": "p", "remote_host_id": 999},
        )
        assert r.status_code == 400 and "remote_host_id 999" in r.json()["errorDescription"]
        r = c.post(
            "/credentials",
            json={"type": "Custom", "username": "u", "password": "p", "user_id": 1},
        )
        assert r.status_code == 403 and "only admins" in r.json()["errorDescription"]
        r = c.post(
            "/credentials",
            json={
                "type": "Database",
                "username": "u",
                "password": "p",
                "remote_host": {"name": "nosuch", "url": "postgresql://h/db", "type": "x"},
            },
        )
        assert r.status_code == 403 and "only admins" in r.json()["errorDescription"]
        r = c.put("/credentials/1", json={"username": "u", "password": "p"})
        assert r.status_code == 400 and "type is required" in r.json()["errorDescription"]
        assert c.get("/credentials/abc").status_code == 400
        assert c.get("/credentials/999999").status_code == 404
        r = c.get("/credentials", params={"default": "maybe"})
        assert r.status_code == 400 and "default" in r.json()["errorDescription"]


def test_admin_can_create_for_another_user_and_via_a_named_remote_host(
    live: LiveServer,
    admin,  # type: ignore[no-untyped-def]
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    uid, key = live.new_user("target")
    r = admin.post(
        "/credentials",
        json={
            "type": "Database",
            "username": "t",
            "password": "p",
            "user_id": uid,
            "remote_host": {
                "name": "side",
                "url": f"duckdb:///{tmp_path / 'side.duckdb'}",
                "type": "RemoteHostTypes::DuckDB",
            },
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["owner"] == "target" and r.json()["remoteHostName"] == "side"
    with live.client(key) as c:
        assert c.get(f"/credentials/{r.json()['id']}").status_code == 200


def test_authenticate_logs_in_to_postgresql(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    base = make_url(_warehouse_pg_url())
    host, port, db = base.host or "127.0.0.1", base.port or 5432, base.database or "postgres"
    r = admin.post(
        "/remote_hosts",
        json={
            "name": "pg",
            "url": f"postgresql://{host}:{port}/{db}",
            "type": "RemoteHostTypes::Postgres",
        },
    )
    assert r.status_code == 200, r.text
    pg_id = r.json()["id"]
    _, key = live.new_user()
    with live.client(key) as c:
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": f"jdbc:postgresql://{host}:{port}/{db}",
                "remote_host_type": "RemoteHostTypes::JDBC",
                "username": base.username or "postgres",
                "password": SECRET,
            },
        )
        assert r.status_code == 200, r.text
        assert SECRET not in r.text
        cred = r.json()
        assert cred["type"] == "Database" and cred["remoteHostId"] == pg_id
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": f"{host}:{port}/{db}",
                "remoteHostType": "RemoteHostTypes::Redshift",
                "username": base.username or "postgres",
                "password": SECRET,
            },
        )
        assert r.status_code == 200, r.text
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": f"postgresql://{host}:{port}/{db}",
                "remote_host_type": "RemoteHostTypes::Postgres",
                "username": "no_such_role_here",
                "password": SECRET,
            },
        )
        assert r.status_code == 400
        assert "failed" in r.json()["errorDescription"] and SECRET not in r.text


def test_authenticate_failures_are_quick_clear_4xx(live: LiveServer) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        started = time.monotonic()
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": "postgresql://127.0.0.1:1/postgres",
                "remote_host_type": "RemoteHostTypes::Postgres",
                "username": "postgres",
                "password": SECRET,
            },
        )
        assert time.monotonic() - started < 10
        assert r.status_code == 400, r.text
        text = r.json()["errorDescription"]
        assert "login to postgresql+psycopg://127.0.0.1:1/postgres" in text and "failed" in text
        assert SECRET not in r.text
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": f"postgresql://postgres:{SECRET}@127.0.0.1:1/postgres",
                "remote_host_type": "RemoteHostTypes::Postgres",
                "username": "postgres",
                "password": SECRET,
            },
        )
        assert r.status_code == 400 and SECRET not in r.text
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": "https://github.com",
                "remote_host_type": "RemoteHostTypes::Github",
                "username": "me",
                "password": SECRET,
            },
        )
        assert r.status_code == 400 and "cannot check logins" in r.json()["errorDescription"]
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": "duckdb:////tmp/anything.duckdb",
                "remote_host_type": "RemoteHostTypes::JDBC",
                "username": "me",
                "password": SECRET,
            },
        )
        assert r.status_code == 400 and "no logins" in r.json()["errorDescription"]
        assert not os.path.exists("/tmp/anything.duckdb")
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": "not a url",
                "remote_host_type": "RemoteHostTypes::JDBC",
                "username": "me",
                "password": SECRET,
            },
        )
        assert r.status_code == 400 and "not a database URL" in r.json()["errorDescription"]
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": "postgresql://h/db",
                "remote_host_type": "Postgres",
                "username": "me",
                "password": SECRET,
            },
        )
        assert r.status_code == 400 and "remote_host_type" in r.json()["errorDescription"]
        r = c.post(
            "/credentials/authenticate",
            json={
                "url": "postgresql://127.0.0.1:1/db",
                "remote_host_type": "RemoteHostTypes::MySQL",
                "username": "me",
                "password": SECRET,
            },
        )
        assert r.status_code == 400
        assert "does not match the url" in r.json()["errorDescription"]
        assert c.get("/credentials", params={"type": "Database"}).json()[0]["default"] is True
        assert len(c.get("/credentials").json()) == 1  # nothing was kept from the failures


def test_temporary_credentials(live: LiveServer) -> None:
    uid, key = live.new_user()
    with live.client(key) as c:
        cid = c.post(
            "/credentials",
            json={"type": "Amazon Web Services S3", "username": "k", "password": "s"},
        ).json()["id"]
        before = datetime.now(UTC)
        r = c.post(f"/credentials/{cid}/temporary", json={})
        assert r.status_code == 200, r.text
        tmp = r.json()
        assert set(tmp) >= {"accessKey", "secretAccessKey", "sessionToken"}
        expires = datetime.fromisoformat(tmp["expiresAt"].replace("Z", "+00:00"))
        assert timedelta(seconds=890) < expires - before < timedelta(seconds=910)
        r = c.post(f"/credentials/{cid}/temporary", json={"duration": 129600})
        assert r.status_code == 200
        assert c.post(f"/credentials/{cid}/temporary").status_code == 200  # no body at all
        for bad in (899, 129601, 0, -5):
            r = c.post(f"/credentials/{cid}/temporary", json={"duration": bad})
            assert r.status_code == 400, bad
            assert "900" in r.json()["errorDescription"]
            assert "129600" in r.json()["errorDescription"]
    with live.platform.transaction() as s:
        rows = s.scalars(
            select(TemporaryCredentialRow).where(TemporaryCredentialRow.credential_id == cid)
        ).all()
        assert len(rows) == 3
        stored = next(r for r in rows if r.access_key == tmp["accessKey"])
        assert tmp["secretAccessKey"] not in (stored.secret_hash, stored.session_token_hash)
        grant = credentials.verify_temporary(
            s, tmp["accessKey"], tmp["secretAccessKey"], tmp["sessionToken"]
        )
        assert grant is not None and grant.actor.user_id == uid and grant.credential_id == cid
        assert grant.scope == "files"
        assert (
            credentials.verify_temporary(s, tmp["accessKey"], "wrong", tmp["sessionToken"]) is None
        )
        assert (
            credentials.verify_temporary(s, tmp["accessKey"], tmp["secretAccessKey"], "wrong")
            is None
        )
        assert credentials.verify_temporary(s, "CTMPNOPE", "x", "y") is None
        later = expires + timedelta(seconds=1)
        assert (
            credentials.verify_temporary(
                s, tmp["accessKey"], tmp["secretAccessKey"], tmp["sessionToken"], now=later
            )
            is None
        )
        stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with live.platform.transaction() as s:
        assert (
            credentials.verify_temporary(
                s, tmp["accessKey"], tmp["secretAccessKey"], tmp["sessionToken"]
            )
            is None
        )

"""The public `civis` client (unmodified, from PyPI) against a live civica: credentials and
databases, as `civis.io` uses them before every SQL call."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer

civis = pytest.importorskip("civis")


@pytest.fixture
def client(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A civis APIClient for a fresh user (civis caches the spec per API key)."""
    _, key = live.new_user()
    monkeypatch.setenv("CIVIS_API_ENDPOINT", f"{live.url}/")
    monkeypatch.setenv("CIVIS_API_KEY", key)
    return civis.APIClient()


def test_credentials_with_the_public_client(client: Any) -> None:
    created = client.credentials.post("Database", "analyst", "s3cret-pw", name="mine")
    assert created.id > 0 and created.type == "Database" and created.name == "mine"
    assert "password" not in created.json()
    fetched = client.credentials.get(created.id)
    assert fetched.username == "analyst" and fetched.owner == client.username
    defaults = client.credentials.list(type="Database", default=True)
    assert len(defaults) == 1 and defaults[0].default is True
    assert defaults[0].id != created.id
    assert client.default_database_credential_id == defaults[0].id
    updated = client.credentials.put(created.id, "Database", "analyst2", "pw2", default=True)
    assert updated.username == "analyst2" and updated.default is True
    assert client.credentials.list(type="Database", default=True)[0].id == created.id
    everything = list(client.credentials.list(iterator=True, limit=1))
    assert {c.id for c in everything} == {created.id, defaults[0].id}
    temporary = client.credentials.post_temporary(created.id, duration=900)
    assert temporary.access_key and temporary.secret_access_key and temporary.session_token
    with pytest.raises(civis.base.CivisAPIError) as err:
        client.credentials.post_temporary(created.id, duration=60)
    assert err.value.status_code == 400 and "900" in str(err.value)


def test_databases_with_the_public_client(client: Any, live: LiveServer) -> None:
    dbs = client.databases.list()
    assert [d.name for d in dbs] == ["civica"]
    db = dbs[0].id
    assert client.get_database_id("civica") == db
    schemas = {s.schema for s in client.databases.list_schemas(db)}
    assert {"public", "main"} <= schemas
    with live.client(live.admin_key) as admin:  # the admin whitelists; the analyst only reads
        rule = admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "127.0.0.0/8"})
        rule = rule.json()
    assert [r.subnet_mask for r in client.databases.list_whitelist_ips(db)] == ["127.0.0.0/8"]
    assert client.databases.get_whitelist_ips(db, rule["id"]).authorized_by == "admin"
    with pytest.raises(civis.base.CivisAPIError) as err:
        client.databases.post_whitelist_ips(db, "10.0.0.0/8")
    assert err.value.status_code == 403


def test_admin_whitelists_with_the_public_client(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = live.new_user(admin=True)
    monkeypatch.setenv("CIVIS_API_ENDPOINT", f"{live.url}/")
    monkeypatch.setenv("CIVIS_API_KEY", key)
    client = civis.APIClient()
    db = client.databases.list()[0].id
    rule = client.databases.post_whitelist_ips(db, "10.0.0.0/8")
    assert rule.subnet_mask == "10.0.0.0/8" and rule.is_active is True
    with pytest.raises(civis.base.CivisAPIError) as err:
        client.databases.list_schemas(db)  # the test client comes from 127.0.0.1
    assert err.value.status_code == 403 and "whitelist" in str(err.value)
    local = client.databases.post_whitelist_ips(db, "127.0.0.1")
    assert local.subnet_mask == "127.0.0.1/32"
    assert "public" in {s.schema for s in client.databases.list_schemas(db)}
    client.databases.delete_whitelist_ips(db, rule.id)
    client.databases.delete_whitelist_ips(db, local.id)
    assert client.databases.list_whitelist_ips(db) == []

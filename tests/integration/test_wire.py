"""Wire conventions every route follows (wire contract §1 and §6)."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer


def test_auth_is_required_and_401_says_how(live: LiveServer) -> None:
    with live.client() as c:
        r = c.get("/projects")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    assert "API key" in r.json()["errorDescription"]
    with live.client("wrong-key-wrong-key") as c:
        assert c.get("/users/me").status_code == 401


def test_bearer_and_basic_both_work(live: LiveServer) -> None:
    r = httpx.get(f"{live.url}/users/me", headers={"Authorization": f"Bearer {live.admin_key}"})
    assert r.json()["username"] == "admin"
    r = httpx.get(f"{live.url}/users/me", auth=(live.admin_key, ""))
    assert r.json()["isAdmin"] is True


def test_slashes_query_booleans_and_bodies_on_get(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    r = admin.post(f"{live.url}//projects/", json={"name": "n", "description": ""})
    assert r.status_code == 200, r.text
    pid = r.json()["id"]
    assert admin.request("GET", f"/projects/{pid}/", json={}).status_code == 200
    assert admin.get("/projects", params={"hidden": "False"}).json()[0]["id"] == pid
    assert admin.get("/projects?author%5B%5D=1").status_code == 200


def test_revoked_key_stops_working(live: LiveServer) -> None:
    from civica.services import users

    with live.platform.transaction() as s:
        user = users.create_user(session=s, username="temp")
        row, key = users.issue_api_key(session=s, user=user)
    with live.client(key) as c:
        assert c.get("/users/me").status_code == 200
        with live.platform.transaction() as s:
            users.revoke_api_key(session=s, key_id=row.id)
        assert c.get("/users/me").status_code == 401

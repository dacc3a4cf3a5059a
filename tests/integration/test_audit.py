"""The audit trail: state-changing calls recorded with who, what and the outcome; admins only."""

from __future__ import annotations

import time

import httpx

from tests.conftest import LiveServer


def events(admin: httpx.Client, **params: object) -> list[dict[str, object]]:
    # Rows are written just after each response is sent: poll briefly for the newest.
    for _ in range(100):
        found = admin.get("/audit", params=params).json()
        if found:
            return list(found)
        time.sleep(0.05)
    return []


def test_calls_are_recorded_with_actor_object_and_status(
    live: LiveServer, admin: httpx.Client
) -> None:
    uid, key = live.new_user("auditee")
    with live.client(key) as c:
        project = c.post("/projects", json={"name": "p", "description": ""}).json()
        renamed = c.put(f"/projects/{project['id']}", json={"name": "q", "description": ""})
        assert renamed.status_code == 200
        missing = c.put("/projects/999999/archive", json={"status": True})
        assert missing.status_code == 404
        c.get(f"/projects/{project['id']}")  # reads are not recorded
    trail = events(admin, user_id=uid)
    while len(trail) < 3:
        trail = events(admin, user_id=uid)
    newest_first = [(e["method"], e["route"], e["objectId"], e["status"]) for e in trail]
    assert newest_first == [
        ("PUT", "/projects/{id}/archive", 999999, 404),
        ("PUT", "/projects/{project_id}", project["id"], 200),
        ("POST", "/projects", project["id"], 200),
    ]
    assert {e["username"] for e in trail} == {"auditee"}
    assert {e["objectType"] for e in trail} == {"projects"}
    assert trail[0]["clientIp"] == "127.0.0.1"
    on_object = events(admin, object_type="projects", object_id=project["id"])
    assert [e["method"] for e in on_object] == ["PUT", "POST"]


def test_refused_keys_are_recorded_without_a_user(live: LiveServer, admin: httpx.Client) -> None:
    with live.client("not-a-key") as c:
        assert c.post("/projects", json={"name": "x", "description": ""}).status_code == 401
    trail = events(admin, object_type="projects")
    assert trail[0]["userId"] is None and trail[0]["status"] == 401


def test_only_admins_read_the_trail(live: LiveServer, admin: httpx.Client) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        r = c.get("/audit")
    assert r.status_code == 403
    assert "admins" in r.json()["errorDescription"]
    r = admin.get("/audit", params={"object_id": 1})
    assert r.status_code == 400 and "object_type" in r.json()["errorDescription"]

"""Projects over HTTP: create, read, list filters, update, shares, archive, permissions."""

from __future__ import annotations

from tests.conftest import LiveServer


def test_create_get_update_project(live: LiveServer) -> None:
    uid, key = live.new_user("ana")
    with live.client(key) as c:
        r = c.post("/projects", json={"name": "Survey", "description": "2026 wave", "note": "n"})
        assert r.status_code == 200, r.text
        p = r.json()
        assert p["name"] == "Survey" and p["author"]["id"] == uid and p["archived"] == "false"
        assert p["createdAt"].endswith("Z") and p["allObjects"] == []
        r = c.put(f"/projects/{p['id']}", json={"description": "2027 wave", "name": None})
        assert r.json()["description"] == "2027 wave" and r.json()["name"] == "Survey"
        assert c.get(f"/projects/{p['id']}/").json()["note"] == "n"


def test_sharing_makes_a_project_visible_only_to_the_shared_user(live: LiveServer) -> None:
    _, owner = live.new_user("owner")
    reader_id, reader = live.new_user("reader")
    _, stranger = live.new_user("stranger")
    with live.client(owner) as c:
        pid = c.post("/projects", json={"name": "P", "description": ""}).json()["id"]
        r = c.put(
            f"/projects/{pid}/shares/users",
            json={"userIds": [reader_id], "permissionLevel": "read"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["readers"]["users"] == [{"id": reader_id, "name": "reader"}]
    with live.client(reader) as c:
        assert [p["id"] for p in c.get("/projects").json()] == [pid]
        assert c.get(f"/projects/{pid}").status_code == 200
        r = c.put(f"/projects/{pid}", json={"name": "mine now"})
        assert r.status_code == 403 and "write" in r.json()["errorDescription"]
    with live.client(stranger) as c:
        assert c.get("/projects").json() == []
        assert c.get(f"/projects/{pid}").status_code == 404
    with live.client(owner) as c:
        assert c.delete(f"/projects/{pid}/shares/users/{reader_id}").status_code == 204
    with live.client(reader) as c:
        assert c.get(f"/projects/{pid}").status_code == 404


def test_group_share_and_permission_filter(live: LiveServer) -> None:
    _, owner = live.new_user("own")
    _, member = live.new_user("mem")
    gid = live.new_group("analysts", ["mem"])
    with live.client(owner) as c:
        pid = c.post("/projects", json={"name": "G", "description": ""}).json()["id"]
        r = c.put(
            f"/projects/{pid}/shares/groups", json={"group_ids": [gid], "permission_level": "write"}
        )
        assert r.json()["writers"]["groups"] == [{"id": gid, "name": "analysts"}]
    with live.client(member) as c:
        assert [p["id"] for p in c.get("/projects", params={"permission": "write"}).json()] == [pid]
        assert c.get("/projects", params={"permission": "manage"}).json() == []
        assert c.put(f"/projects/{pid}", json={"note": "edited"}).status_code == 200
        assert c.put(f"/projects/{pid}/archive", json={"status": True}).status_code == 403


def test_archive_and_pagination(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    ids = [
        admin.post("/projects", json={"name": f"p{i}", "description": ""}).json()["id"]
        for i in range(5)
    ]
    r = admin.put(f"/projects/{ids[0]}/archive", json={"status": True})
    assert r.json()["archived"] == "true"
    assert len(admin.get("/projects").json()) == 4
    assert len(admin.get("/projects", params={"archived": "all"}).json()) == 5
    assert [p["id"] for p in admin.get("/projects", params={"archived": "true"}).json()] == [ids[0]]
    pages = [
        admin.get(
            "/projects", params={"limit": 2, "page_num": n, "order": "name", "order_dir": "asc"}
        )
        for n in (1, 2, 3)
    ]
    assert [[p["name"] for p in r.json()] for r in pages] == [["p1", "p2"], ["p3", "p4"], []]
    assert pages[0].headers["X-Pagination-Total-Entries"] == "4"


def test_bad_input_is_a_clear_4xx(live: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/projects", json={"description": "no name"})
    assert r.status_code == 400 and "name is required" in r.json()["errorDescription"]
    r = admin.post("/projects", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["errorDescription"]
    r = admin.post("/projects", json={"name": "x", "description": "", "nmae": 1})
    assert r.status_code == 400 and "nmae" in r.json()["errorDescription"]
    r = admin.get("/projects", params={"order": "name; drop table projects"})
    assert r.status_code == 400 and "order must be one of" in r.json()["errorDescription"]
    r = admin.get("/projects", params={"author": "1 or 1=1"})
    assert r.status_code == 400 and "author" in r.json()["errorDescription"]
    r = admin.get("/projects/abc")
    assert r.status_code == 400 and "project_id" in r.json()["errorDescription"]
    r = admin.put("/projects/1/shares/users", json={"user_ids": [1], "permission_level": "owner"})
    assert r.status_code in (400, 404)
    r = admin.post("/projects", content=b"x" * (17 * 1024 * 1024))
    assert r.status_code == 413
    r = admin.post("/projects", json={"name": "a\x00b", "description": ""})
    assert r.status_code == 400 and "NUL" in r.json()["errorDescription"]
    assert admin.get("/projects", params={"author": "1\x002"}).status_code == 400
    assert admin.get("/projects/99999999999999999999").status_code in (400, 404)
    assert admin.get("/projects/9223372036854775807").status_code == 404
    r = admin.put("/projects/1/shares/users", json={"userIds": "x", "permissionLevel": "read"})
    assert r.status_code == 400 and "user_ids" in r.json()["errorDescription"]


def test_sharing_with_unknown_ids_names_a_few_of_them(admin) -> None:  # type: ignore[no-untyped-def]
    project = admin.post("/projects", json={"name": "p", "description": ""}).json()
    body = {"userIds": list(range(10_000, 10_500)), "permissionLevel": "read"}
    r = admin.put(f"/projects/{project['id']}/shares/users", json=body)
    assert r.status_code == 400
    text = r.json()["errorDescription"]
    assert text.startswith("no user with id 10000, 10001,") and "and 490 more" in text
    assert len(text) < 200

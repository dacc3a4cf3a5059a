"""Script templates: PUT (replace) and PATCH (update) over HTTP and through the public client,
with permissions (read shares cannot change a template) and clear 4xx answers."""

from __future__ import annotations

import civis
import httpx
import pytest

from tests.conftest import LiveServer


def _template(c: httpx.Client) -> dict[str, object]:
    r = c.post(
        "/scripts/python3",
        json={"name": "backing", "source": "print(1)",
              "params": [{"name": "n", "type": "integer"}]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = c.post(
        "/templates/scripts",
        json={"script_id": r.json()["id"], "name": "greeter", "note": "says hi"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_put_and_patch_a_template(live: LiveServer, admin: httpx.Client) -> None:
    t = _template(admin)
    assert t["author"]["username"] and t["note"] == "says hi"  # type: ignore[index]
    r = admin.put(f"/templates/scripts/{t['id']}", json={"name": " renamed "})
    assert r.status_code == 200, r.text
    put = r.json()
    assert put["name"] == "renamed" and put["note"] is None and put["archived"] is False
    assert put["scriptId"] == t["scriptId"] and put["params"] == t["params"]
    r = admin.patch(f"/templates/scripts/{t['id']}", json={"note": "new note", "archived": True})
    assert r.status_code == 200 and r.json()["note"] == "new note" and r.json()["archived"]
    assert r.json()["name"] == "renamed"
    # PUT keeps the archive status when it is not given.
    r = admin.put(f"/templates/scripts/{t['id']}", json={"name": "again", "note": "n"})
    assert r.json()["archived"] is True and r.json()["note"] == "n"
    got = admin.get(f"/templates/scripts/{t['id']}").json()
    assert (got["name"], got["note"], got["archived"]) == ("again", "n", True)
    for method, body in (("put", {"name": "  "}), ("patch", {"name": ""})):
        r = admin.request(method, f"/templates/scripts/{t['id']}", json=body)
        assert r.status_code == 400 and "name cannot be empty" in r.json()["errorDescription"]
    r = admin.put(f"/templates/scripts/{t['id']}", json={"note": "no name"})
    assert r.status_code in (400, 422) and "name" in r.json()["errorDescription"]
    assert admin.put("/templates/scripts/999999", json={"name": "x"}).status_code == 404


def test_only_writers_change_a_template(live: LiveServer, admin: httpx.Client) -> None:
    t = _template(admin)
    reader_id, reader_key = live.new_user()
    _, stranger_key = live.new_user()
    r = admin.put(
        f"/templates/scripts/{t['id']}/shares/users",
        json={"user_ids": [reader_id], "permission_level": "read"},
    )
    assert r.status_code == 200, r.text
    with live.client(reader_key) as reader, live.client(stranger_key) as stranger:
        assert reader.get(f"/templates/scripts/{t['id']}").status_code == 200
        assert reader.put(f"/templates/scripts/{t['id']}", json={"name": "x"}).status_code == 403
        assert reader.patch(f"/templates/scripts/{t['id']}", json={"note": "x"}).status_code == 403
        assert stranger.put(f"/templates/scripts/{t['id']}", json={"name": "x"}).status_code == 404
    assert admin.get(f"/templates/scripts/{t['id']}").json()["name"] == "greeter"


def test_public_client_put_and_patch(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    client = civis.APIClient(api_key=live.admin_key)
    with live.client(live.admin_key) as c:
        t = _template(c)
    put = client.templates.put_scripts(t["id"], "from client", note="n1")
    assert put.name == "from client" and put.note == "n1"
    patched = client.templates.patch_scripts(t["id"], archived=True)
    assert patched.archived is True and patched.name == "from client"
    assert client.templates.get_scripts(t["id"]).author.username == put.author.username

"""`/jobs`: one view over every runnable kind: list filters, get, runs, logs headers, cancel,
parents and children, trigger e-mail, shares and projects."""

from __future__ import annotations

import httpx

from civica.execution.worker import Worker
from tests.conftest import LiveServer
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]


def script(c: httpx.Client, name: str, source: str = "pass", **extra: object) -> int:
    r = c.post("/scripts/python3", json={"name": name, "source": source, **extra})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_jobs_span_every_kind_in_one_id_space(live: LiveServer, admin: httpx.Client) -> None:
    py = script(admin, "py job")
    ct = admin.post(
        "/scripts/containers",
        json={"name": "ct job", "requiredResources": {"cpu": 64, "memory": 64},
              "dockerCommand": "echo hi"},
    ).json()["id"]  # fmt: skip
    job = admin.get(f"/jobs/{py}").json()
    assert job["type"] == "JobTypes::PythonDocker" and job["state"] == "idle"
    assert job["runs"] == [] and job["lastRun"] is None and job["archived"] == "false"
    assert admin.get(f"/jobs/{ct}").json()["type"] == "JobTypes::ContainerDocker"
    listed = admin.get("/jobs").json()
    assert [j["id"] for j in listed] == [ct, py]
    assert [j["id"] for j in admin.get("/jobs", params={"type": "python3"}).json()] == [py]
    types = {"type": "JobTypes::ContainerDocker"}
    assert [j["id"] for j in admin.get("/jobs", params=types).json()] == [ct]
    assert [j["id"] for j in admin.get("/jobs", params={"q": "ct"}).json()] == [ct]
    assert [j["id"] for j in admin.get("/jobs", params={"q": str(py)}).json()] == [py]
    assert [j["id"] for j in admin.get("/jobs", params={"limit": 1}).json()] == [ct]
    assert admin.get("/jobs", params={"limit": 1, "page_num": 3}).json() == []
    assert admin.get("/jobs", params={"state": "queued"}).json() == []
    assert admin.get("/jobs", params={"state": "pending"}).status_code == 400
    # A script's id is not a container's.
    assert admin.get(f"/scripts/containers/{py}").status_code == 404
    assert admin.get(f"/scripts/python3/{ct}").status_code == 404


def test_run_a_job_and_follow_it(live: LiveServer, worker: Worker, admin: httpx.Client) -> None:
    jid = script(admin, "runner", "print('hello')")
    r = admin.post(f"/jobs/{jid}/runs")
    assert r.status_code == 201 and set(r.json()) == {
        "id", "state", "createdAt", "startedAt", "finishedAt", "error"
    }  # fmt: skip
    rid = r.json()["id"]
    done = wait_run(admin, f"/jobs/{jid}/runs/{rid}")
    assert done["state"] == "succeeded"
    second = admin.post(f"/jobs/{jid}/runs").json()["id"]
    wait_run(admin, f"/jobs/{jid}/runs/{second}")
    newest = admin.get(f"/jobs/{jid}/runs", params={"limit": 1, "order": "id", "order_dir": "desc"})
    assert [x["id"] for x in newest.json()] == [second]
    oldest = admin.get(f"/jobs/{jid}/runs", params={"order_dir": "asc"}).json()
    assert [x["id"] for x in oldest] == [rid, second]
    assert admin.get(f"/jobs/{jid}/runs", params={"order": "state"}).status_code == 400
    job = admin.get(f"/jobs/{jid}").json()
    assert job["state"] == "succeeded" and job["lastRun"]["id"] == second
    assert [x["id"] for x in job["runs"]] == [second, rid]
    assert [j["id"] for j in admin.get("/jobs", params={"state": "succeeded"}).json()] == [jid]
    logs = admin.get(f"/jobs/{jid}/runs/{rid}/logs", params={"last_id": 0, "limit": 250})
    assert [x["message"] for x in logs.json()] == ["hello"]
    assert logs.headers["civis-max-id"] == str(logs.json()[0]["id"])
    assert logs.headers["civis-cache-control"] != "no-store"
    assert admin.get(f"/jobs/{jid}/runs/{rid}/outputs").json() == []
    assert admin.get(f"/jobs/{jid}/runs/999999").status_code == 404


def test_queued_run_headers_and_cancel(live: LiveServer, admin: httpx.Client) -> None:
    jid = script(admin, "never runs (no worker)")
    rid = admin.post(f"/jobs/{jid}/runs").json()["id"]
    logs = admin.get(f"/jobs/{jid}/runs/{rid}/logs")
    assert logs.json() == [] and logs.headers["civis-max-id"] == "0"
    assert logs.headers["civis-cache-control"] == "no-store"
    r = admin.delete(f"/jobs/{jid}/runs/{rid}")
    assert r.status_code == 202
    assert r.json() == {"id": rid, "state": "cancelled", "isCancelRequested": True}
    run = admin.get(f"/jobs/{jid}/runs/{rid}").json()
    assert run["state"] == "cancelled" and run["finishedAt"]


def test_parents_and_children(live: LiveServer, admin: httpx.Client) -> None:
    root = script(admin, "root")
    child = script(admin, "child", parentId=root)
    grandchild = script(admin, "grandchild", parentId=child)
    sibling = script(admin, "sibling", parentId=root)
    parents = admin.get(f"/jobs/{grandchild}/parents").json()
    assert [p["id"] for p in parents] == [child, root]
    tree = admin.get(f"/jobs/{root}/children").json()
    assert tree["id"] == root
    assert [c["id"] for c in tree["children"]] == [child, sibling]
    assert [g["id"] for g in tree["children"][0]["children"]] == [grandchild]
    assert tree["children"][0]["children"][0]["lastRun"] is None
    r = admin.patch(f"/scripts/python3/{root}", json={"parentId": grandchild})
    assert r.status_code == 400 and "loop" in r.json()["errorDescription"]


def test_trigger_email_is_unique_and_stable(live: LiveServer, admin: httpx.Client) -> None:
    a, b = script(admin, "a"), script(admin, "b")
    first = admin.post(f"/jobs/{a}/trigger_email").json()["triggerEmail"]
    assert first.startswith(f"job-{a}-") and "@" in first
    assert admin.post(f"/jobs/{a}/trigger_email").json()["triggerEmail"] == first
    assert admin.post(f"/jobs/{b}/trigger_email").json()["triggerEmail"] != first


def test_permissions_shares_and_projects(live: LiveServer) -> None:
    _, owner = live.new_user("jowner")
    writer_id, writer = live.new_user("jwriter")
    _, stranger = live.new_user("jstranger")
    with live.client(owner) as c:
        jid = script(c, "shared")
        r = c.put(
            f"/jobs/{jid}/shares/users", json={"userIds": [writer_id], "permissionLevel": "write"}
        )
        assert r.status_code == 200 and r.json()["writers"]["users"][0]["id"] == writer_id
        assert c.get(f"/scripts/python3/{jid}/shares").json()[0]["writers"]["users"]
        pid = c.post("/projects", json={"name": "J", "description": ""}).json()["id"]
        assert c.put(f"/jobs/{jid}/projects/{pid}").status_code == 204
        assert [p["id"] for p in c.get(f"/jobs/{jid}/projects").json()] == [pid]
        assert c.delete(f"/jobs/{jid}/projects/{pid}").status_code == 204
    with live.client(writer) as c:
        assert c.get(f"/jobs/{jid}").json()["myPermissionLevel"] == "write"
        assert c.post(f"/jobs/{jid}/runs").status_code == 201
        assert [j["id"] for j in c.get("/jobs", params={"permission": "write"}).json()] == [jid]
        assert c.get("/jobs", params={"permission": "manage"}).json() == []
        assert (
            c.put(
                f"/jobs/{jid}/shares/users", json={"userIds": [1], "permissionLevel": "read"}
            ).status_code
            == 403
        )
    with live.client(stranger) as c:
        assert c.get(f"/jobs/{jid}").status_code == 404
        assert c.get("/jobs").json() == []
        assert c.post(f"/jobs/{jid}/runs").status_code == 404
        assert c.get(f"/jobs/{jid}/runs").status_code == 404

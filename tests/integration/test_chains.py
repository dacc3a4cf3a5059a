"""Chains: a job with parent_id runs after its parent succeeds (real worker runs), not after it
fails; loops are refused; /jobs/{id}/parents and /children show the real tree."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from civica.db.models import RunLogRow, RunRow
from civica.execution.worker import Worker
from civica.platform import Platform
from civica.settings import Settings
from tests.conftest import LiveServer
from tests.workers import fast_settings, wait_run, worker

__all__ = ["worker"]


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str) -> Settings:
    return fast_settings(tmp_path, metadata_url)


def script(c: httpx.Client, name: str, source: str = "pass", **extra: object) -> int:
    r = c.post("/scripts/python3", json={"name": name, "source": source, **extra})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def run(c: httpx.Client, job_id: int) -> dict[str, object]:
    r = c.post(f"/scripts/python3/{job_id}/runs")
    assert r.status_code == 202, r.text
    return wait_run(c, f"/scripts/python3/{job_id}/runs/{r.json()['id']}")


def runs_of(platform: Platform, job_id: int) -> list[RunRow]:
    with platform.transaction() as session:
        return list(
            session.scalars(select(RunRow).where(RunRow.job_id == job_id).order_by(RunRow.id))
        )


def wait_runs(platform: Platform, job_id: int, count: int, timeout: float = 30) -> list[RunRow]:
    """Wait until job `job_id` has `count` finished runs."""
    deadline = time.monotonic() + timeout
    while True:
        runs = runs_of(platform, job_id)
        if sum(r.state in ("succeeded", "failed", "cancelled") for r in runs) >= count:
            return runs
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} has runs {[(r.id, r.state) for r in runs]}")
        time.sleep(0.05)


def test_children_run_after_parent_succeeds(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    root = script(admin, "root", "print('root')")
    child = script(admin, "child", "print('child')", parentId=root)
    grandchild = script(admin, "grandchild", "print('grandchild')", parentId=child)
    sibling = script(admin, "sibling", parentId=root)
    assert run(admin, root)["state"] == "succeeded"
    [g] = wait_runs(live.platform, grandchild, 1)
    assert g.state == "succeeded"
    [c] = wait_runs(live.platform, child, 1)
    [s] = wait_runs(live.platform, sibling, 1)
    assert c.state == s.state == "succeeded"
    assert c.finished_at is not None and g.queued_at >= c.finished_at  # after, not beside
    with live.platform.transaction() as session:
        messages = list(session.scalars(select(RunLogRow.message).where(RunLogRow.run_id == c.id)))
    assert any(f"parent job {root} succeeded" in m for m in messages)
    # The tree shows what ran.
    tree = admin.get(f"/jobs/{root}/children").json()
    assert [k["id"] for k in tree["children"]] == [child, sibling]
    assert tree["children"][0]["children"][0]["lastRun"]["state"] == "succeeded"
    parents = admin.get(f"/jobs/{grandchild}/parents").json()
    assert [p["id"] for p in parents] == [child, root]


def test_failed_parent_does_not_start_children(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    root = script(admin, "breaks", "raise SystemExit(3)")
    child = script(admin, "after", parentId=root)
    assert run(admin, root)["state"] == "failed"
    time.sleep(0.5)  # give a (wrongly) chained run the chance to appear
    assert runs_of(live.platform, child) == []


def test_child_that_cannot_start_gets_a_failed_run(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    root = script(admin, "root")
    params = [{"name": "WHO", "type": "string", "required": True}]
    child = script(admin, "needs WHO", parentId=root, params=params)
    assert run(admin, root)["state"] == "succeeded"
    [c] = wait_runs(live.platform, child, 1)
    assert c.state == "failed" and c.error is not None
    assert f"parent job {root} succeeded" in c.error and "WHO" in c.error


def test_archived_children_are_skipped(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    root = script(admin, "root")
    child = script(admin, "archived child", parentId=root)
    assert admin.put(f"/scripts/python3/{child}/archive", json={"status": True}).status_code == 200
    assert run(admin, root)["state"] == "succeeded"
    time.sleep(0.5)
    assert runs_of(live.platform, child) == []


def test_loops_are_refused(live: LiveServer, admin: httpx.Client) -> None:
    a = script(admin, "a")
    b = script(admin, "b", parentId=a)
    c = script(admin, "c", parentId=b)
    for target, parent in ((a, c), (a, a), (b, c)):
        r = admin.patch(f"/scripts/python3/{target}", json={"parentId": parent})
        assert r.status_code == 400, r.text
        assert "loop" in r.json()["errorDescription"]
    r = admin.patch(f"/scripts/python3/{c}", json={"parentId": 999999})
    assert r.status_code == 400 and "999999" in r.json()["errorDescription"]
    # A job someone else cannot read is not a parent they can choose.
    _, key = live.new_user()
    with live.client(key) as other:
        r = other.post("/scripts/python3", json={"name": "x", "source": "", "parentId": a})
        assert r.status_code == 400 and "not a job you can read" in r.json()["errorDescription"]


def test_import_parent_loops_are_refused(live: LiveServer, admin: httpx.Client) -> None:
    body = {"name": "copy", "syncType": "Dbsync", "isOutbound": True}
    first = admin.post("/imports", json=body).json()["id"]
    second = admin.post("/imports", json={**body, "parentId": first}).json()["id"]
    r = admin.put(f"/imports/{first}", json={**body, "parentId": second})
    assert r.status_code == 400 and "loop" in r.json()["errorDescription"]
    s = script(admin, "after the import", parentId=second)
    assert [p["id"] for p in admin.get(f"/jobs/{s}/parents").json()] == [second, first]

"""The execution engine: claiming, heartbeats, restarts, the runner's limits, logs and run keys.

Runs on SQLite and (with CIVICA_TEST_POSTGRES_URL) PostgreSQL, like every integration test.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from civica.bootstrap import prepare
from civica.db.models import PythonScriptRow, RunLogRow, RunRow, UserRow
from civica.execution import queue
from civica.execution.resources import Resources
from civica.execution.worker import Worker
from civica.platform import Platform
from civica.services.runs import cancel_live_run
from civica.services.users import actor_for
from tests.conftest import ADMIN_KEY, LiveServer
from tests.workers import fast_settings, serving, settings, wait_run, wait_state, worker

__all__ = ["settings", "worker"]


def make_run(platform: Platform, source: str, **config: Any) -> int:
    """A Python script owned by the admin, with one queued run; returns the run id."""
    with platform.transaction() as session:
        admin = session.scalar(select(UserRow).where(UserRow.is_admin.is_(True)))
        assert admin is not None
        job = PythonScriptRow(
            owner_id=admin.id,
            name="engine test",
            type="JobTypes::PythonDocker",
            config={"source": source, **config},
        )
        session.add(job)
        session.flush()
        memory = int((config.get("required_resources") or {}).get("memory", 256))
        return queue.enqueue(
            session, job, triggered_by=admin.id, need=Resources(cpu=2, memory=memory)
        ).id


def logs_of(platform: Platform, run_id: int) -> list[tuple[str, str]]:
    with platform.transaction() as session:
        rows = session.execute(
            select(RunLogRow.level, RunLogRow.message)
            .where(RunLogRow.run_id == run_id)
            .order_by(RunLogRow.id)
        ).all()
        return [(r.level, r.message) for r in rows]


@pytest.fixture
def engine_worker(platform: Platform) -> Iterator[Worker]:
    platform.extras["api_url"] = "http://127.0.0.1:9"  # these runs do not call back
    w = Worker(platform)
    w.start()
    yield w
    w.stop(timeout=10)


def test_two_workers_racing_claim_each_run_exactly_once(platform: Platform) -> None:
    ids = {make_run(platform, "pass") for _ in range(40)}
    claimed: dict[str, list[int]] = {"a": [], "b": []}

    def drain(name: str) -> None:
        wid = queue.new_worker_id()
        while (got := queue.claim(platform, wid, None)) is not None:
            claimed[name].append(got.run_id)

    threads = [threading.Thread(target=drain, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = claimed["a"], claimed["b"]
    assert sorted(a + b) == sorted(ids)
    assert not set(a) & set(b)
    with platform.transaction() as session:
        states = set(session.scalars(select(RunRow.state).where(RunRow.id.in_(ids))))
    assert states == {"running"}


def test_claim_respects_free_resources(platform: Platform) -> None:
    big = make_run(platform, "pass", required_resources={"memory": 5000})
    small = make_run(platform, "pass", required_resources={"memory": 100})
    wid = queue.new_worker_id()
    got = queue.claim(platform, wid, Resources(cpu=1024, memory=1000))
    assert got is not None and got.run_id == small
    assert queue.claim(platform, wid, Resources(cpu=1024, memory=1000)) is None
    got = queue.claim(platform, wid, None)  # an idle worker takes any run, however large
    assert got is not None and got.run_id == big


def test_a_run_whose_worker_stops_beating_is_failed(platform: Platform) -> None:
    run_id = make_run(platform, "pass")
    assert queue.claim(platform, "elsewhere:1:gone", None) is not None
    with platform.transaction() as session:
        session.execute(
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    assert queue.reap_stale(platform, timeout=60) == 1
    run = wait_state(platform, run_id)
    assert run.state == "failed" and "stopped sending heartbeats" in run.error
    assert run.finished_at is not None
    assert ("error", run.error) in logs_of(platform, run_id)


def test_a_worker_fails_what_a_dead_worker_left_running(platform: Platform) -> None:
    import socket

    run_id = make_run(platform, "pass")
    other_host = make_run(platform, "pass")
    host = socket.gethostname()[:80]
    assert queue.claim(platform, f"{host}:999999999:dead", None) is not None
    assert queue.claim(platform, "another-host:1:alive", None) is not None
    w = Worker(platform)
    w.start()
    try:
        run = wait_state(platform, run_id, timeout=5)
        assert run.state == "failed" and run.error == queue.RESTART_ERROR
        with platform.transaction() as session:
            assert session.get(RunRow, other_host).state == "running"  # its heartbeat decides
    finally:
        w.stop()


def test_runs_succeed_fail_and_record_errors(platform: Platform, engine_worker: Worker) -> None:
    ok = make_run(platform, "print('hi')")
    bad = make_run(platform, "import sys\nprint('about to fail', file=sys.stderr)\nsys.exit(3)")
    assert wait_state(platform, ok).state == "succeeded"
    run = wait_state(platform, bad)
    assert run.state == "failed" and run.error == "Process exited with code 3."
    assert logs_of(platform, bad) == [
        ("error", "about to fail"),
        ("error", "Process exited with code 3."),
    ]


def test_cancel_kills_the_process_group(
    platform: Platform, engine_worker: Worker, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    source = (
        "import os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    run_id = make_run(platform, source, cancel_timeout=1)
    deadline = time.monotonic() + 20
    while not pids.exists() or not pids.read_text():
        assert time.monotonic() < deadline, "the script did not start"
        time.sleep(0.05)
    with platform.transaction() as session:
        admin = session.scalar(select(UserRow).where(UserRow.is_admin.is_(True)))
        assert admin is not None
        run = cancel_live_run(session, actor_for(session, admin), run_id)
        assert run.state == "cancelled" and run.is_cancel_requested
    procs = [int(p) for p in pids.read_text().split()]
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in procs):
        assert time.monotonic() < deadline, f"processes still alive: {procs}"
        time.sleep(0.05)
    time.sleep(0.3)  # the runner records the end
    run = wait_state(platform, run_id)
    assert run.state == "cancelled" and run.error is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent to reap it is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_memory_limit_fails_the_run(platform: Platform, engine_worker: Worker) -> None:
    source = "import time\nblob = b'x' * (300 * 2**20)\ntime.sleep(20)\n"
    run_id = make_run(platform, source, required_resources={"memory": 64})
    run = wait_state(platform, run_id, timeout=20)
    assert run.state == "failed"
    assert run.error.startswith("Process ran out of its allowed memory"), run.error
    assert run.max_memory_usage is not None and run.max_memory_usage > 64


def test_running_time_limit(platform: Platform, engine_worker: Worker) -> None:
    platform.settings.max_run_seconds = 0.5
    run_id = make_run(platform, "import time\ntime.sleep(30)\n")
    run = wait_state(platform, run_id, timeout=10)
    assert run.state == "failed" and "ran longer than the 0.5 seconds" in run.error


def test_logs_stream_in_order_with_secrets_masked(
    platform: Platform, engine_worker: Worker
) -> None:
    source = (
        "import os, sys\n"
        "for i in range(5000):\n"
        "    print(f'line {i}')\n"
        "print('key is', os.environ['CIVIS_API_KEY'])\n"
        "print('x' * 40000)\n"
        "print('after the long line')\n"
    )
    run_id = make_run(platform, source)
    assert wait_state(platform, run_id).state == "succeeded"
    messages = [m for _, m in logs_of(platform, run_id)]
    assert messages[:5000] == [f"line {i}" for i in range(5000)]
    assert messages[5000] == "key is ********"
    assert messages[5001].startswith("x" * 100) and messages[5001].endswith(
        "[line cut: longer than 16 KiB]"
    )
    assert len(messages[5001]) < 17 * 1024
    assert messages[5002] == "after the long line"


def test_run_key_lives_only_during_the_run_with_the_owners_rights(
    live: LiveServer, worker: Worker, tmp_path: Path
) -> None:
    _, owner_key = live.new_user("runner_owner")
    _, other_key = live.new_user("someone_else")
    with live.client(other_key) as c:
        private = c.post("/projects", json={"name": "private", "description": ""}).json()["id"]
    with live.client(owner_key) as c:
        mine = c.post("/projects", json={"name": "mine", "description": ""}).json()["id"]
    keyfile = tmp_path / "key"
    source = (
        "import os, httpx\n"
        "base, key = os.environ['CIVIS_API_ENDPOINT'], os.environ['CIVIS_API_KEY']\n"
        f"open({str(keyfile)!r}, 'w').write(key)\n"
        "c = httpx.Client(base_url=base, auth=(key, ''))\n"
        "print('me', c.get('/users/me').json()['username'])\n"
        f"print('mine', c.get('/projects/{mine}').status_code)\n"
        f"print('private', c.get('/projects/{private}').status_code)\n"
        "print('job', os.environ['CIVIS_JOB_ID'], 'run', os.environ['CIVIS_RUN_ID'])\n"
    )
    with live.client(owner_key) as c:
        sid = c.post("/scripts/python3", json={"name": "whoami", "source": source}).json()["id"]
        run = c.post(f"/scripts/python3/{sid}/runs").json()
        done = wait_run(c, f"/scripts/python3/{sid}/runs/{run['id']}")
        assert done["state"] == "succeeded", done
        logs = [entry["message"] for entry in c.get(f"/jobs/{sid}/runs/{run['id']}/logs").json()]
    assert logs == ["me runner_owner", "mine 200", "private 404", f"job {sid} run {run['id']}"]
    with live.client(keyfile.read_text()) as c:
        assert c.get("/users/me").status_code == 401  # revoked when the run ended


def test_the_app_lifespan_starts_workers(tmp_path: Path, metadata_url: str) -> None:
    plat = Platform.open(fast_settings(tmp_path, metadata_url, workers=1))
    prepare(plat)
    try:
        with serving(plat) as url, httpx.Client(base_url=url, auth=(ADMIN_KEY, "")) as c:
            plat.extras["api_url"] = url
            sid = c.post("/scripts/python3", json={"name": "n", "source": "print(1)"}).json()["id"]
            run = c.post(f"/scripts/python3/{sid}/runs").json()
            done = wait_run(c, f"/scripts/python3/{sid}/runs/{run['id']}")
            assert done["state"] == "succeeded"
    finally:
        plat.close()


def test_no_workers_when_disabled(tmp_path: Path, metadata_url: str) -> None:
    plat = Platform.open(fast_settings(tmp_path, metadata_url, workers=0))
    prepare(plat)
    try:
        with serving(plat) as url, httpx.Client(base_url=url, auth=(ADMIN_KEY, "")) as c:
            sid = c.post("/scripts/python3", json={"name": "n", "source": "print(1)"}).json()["id"]
            run = c.post(f"/scripts/python3/{sid}/runs").json()
            time.sleep(0.3)
            assert c.get(f"/scripts/python3/{sid}/runs/{run['id']}").json()["state"] == "queued"
    finally:
        plat.close()


def test_a_separate_civica_worker_process_runs_the_queue(tmp_path: Path, metadata_url: str) -> None:
    import subprocess
    import sys

    settings = fast_settings(tmp_path, metadata_url, workers=0)
    plat = Platform.open(settings)
    prepare(plat)
    env = {
        **os.environ,
        "CIVICA_DATABASE_URL": metadata_url,
        "CIVICA_WORKER_POLL_SECONDS": "0.05",
        "CIVICA_ADMIN_API_KEY": ADMIN_KEY,
    }
    try:
        with serving(plat) as url, httpx.Client(base_url=url, auth=(ADMIN_KEY, "")) as c:
            proc = subprocess.Popen(
                [sys.executable, "-m", "civica.cli", "worker", "--data-dir",
                 str(settings.data_dir), "--api-url", url],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            try:
                assert proc.stdout is not None and "civica worker" in proc.stdout.readline()
                source = "import civis, os\nprint(civis.APIClient().users.get_me()['username'])\n"
                sid = c.post("/scripts/python3", json={"name": "n", "source": source}).json()["id"]
                run = c.post(f"/scripts/python3/{sid}/runs").json()
                done = wait_run(c, f"/scripts/python3/{sid}/runs/{run['id']}")
                assert done["state"] == "succeeded", done
                logs = c.get(f"/scripts/python3/{sid}/runs/{run['id']}/logs").json()
                assert [entry["message"] for entry in logs] == ["admin"]
            finally:
                proc.terminate()
                assert proc.wait(15) == 0
    finally:
        plat.close()

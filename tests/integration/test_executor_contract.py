"""The executor contract: every executor (local subprocesses, Ray tasks) runs the same runs the same
way. Each test runs once per executor; the Ray variant uses a real two-node Ray cluster started on
this machine (tests/ray_cluster.py) and is skipped when Ray is not installed.

Runs on SQLite and (with CIVICA_TEST_POSTGRES_URL) PostgreSQL, like every integration test.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from civica.db.models import PythonScriptRow, RunRow, UserRow
from civica.execution import queue
from civica.execution.executors.base import Executor
from civica.execution.resources import Resources
from civica.execution.worker import Worker
from civica.platform import Platform
from civica.services.runs import cancel_live_run
from civica.services.users import actor_for
from tests.conftest import LiveServer
from tests.integration.test_execution import logs_of
from tests.ray_cluster import NODE_RESOURCES, RayCluster, ray_cluster, ray_cluster_session
from tests.workers import DONE, settings, wait_run, wait_state

__all__ = ["ray_cluster", "ray_cluster_session", "settings"]


@pytest.fixture(params=["local", "ray"])
def executor_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def contract_worker(
    request: pytest.FixtureRequest, platform: Platform, executor_name: str
) -> Iterator[Worker]:
    """A worker whose executor is the one under test (CIVICA_EXECUTOR, as in production)."""
    if executor_name == "ray":
        cluster: RayCluster = request.getfixturevalue("ray_cluster")
        platform.settings.ray_address = cluster.address
    platform.settings.executor = executor_name
    platform.extras["api_url"] = "http://127.0.0.1:9"  # these runs do not call back
    w = Worker(platform)
    w.start()
    yield w
    w.stop(timeout=10)


def make_run(platform: Platform, source: str, cpu: int = 2, **config: Any) -> int:
    """A Python script owned by the admin with one queued run asking for `cpu` shares."""
    with platform.transaction() as session:
        admin = session.scalar(select(UserRow).where(UserRow.is_admin.is_(True)))
        assert admin is not None
        job = PythonScriptRow(
            owner_id=admin.id,
            name="contract test",
            type="JobTypes::PythonDocker",
            config={"source": source, **config},
        )
        session.add(job)
        session.flush()
        memory = int((config.get("required_resources") or {}).get("memory", 256))
        need = Resources(cpu=cpu, memory=memory)
        return queue.enqueue(session, job, triggered_by=admin.id, need=need).id


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


def _wait_file(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().endswith("\n"):
        assert time.monotonic() < deadline, f"the script did not write {path}"
        time.sleep(0.05)
    return path.read_text()


def _wait_dead(pids: list[int], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, f"processes still alive: {pids}"
        time.sleep(0.05)


def test_a_run_succeeds_with_its_output_and_a_failing_run_fails_with_its_error(
    platform: Platform, contract_worker: Worker
) -> None:
    ok = make_run(platform, "import sys\nprint('hello')\nprint('warned', file=sys.stderr)\n")
    bad = make_run(platform, "import sys\nprint('about to fail', file=sys.stderr)\nsys.exit(3)")
    noop = make_run(platform, "pass")
    run = wait_state(platform, ok, timeout=60)
    assert run.state == "succeeded" and run.error is None
    assert sorted(logs_of(platform, ok)) == [("error", "warned"), ("info", "hello")]
    run = wait_state(platform, bad, timeout=60)
    assert run.state == "failed" and run.error == "Process exited with code 3."
    assert logs_of(platform, bad) == [
        ("error", "about to fail"),
        ("error", "Process exited with code 3."),
    ]
    assert wait_state(platform, noop, timeout=60).state == "succeeded"
    assert logs_of(platform, noop) == []


def test_cancel_stops_the_whole_process_group(
    platform: Platform, contract_worker: Worker, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    source = (
        "import os, signal, subprocess, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL after cancel_timeout\n"
        "child = subprocess.Popen(['sleep', '120'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}\\n')\n"
        "print('started', flush=True)\n"
        "time.sleep(120)\n"
    )
    run_id = make_run(platform, source, cancel_timeout=1)
    procs = [int(p) for p in _wait_file(pids).split()]
    with platform.transaction() as session:
        admin = session.scalar(select(UserRow).where(UserRow.is_admin.is_(True)))
        assert admin is not None
        assert cancel_live_run(session, actor_for(session, admin), run_id).state == "cancelled"
    _wait_dead(procs)
    run = wait_state(platform, run_id)
    assert run.state == "cancelled" and run.error is None
    deadline = time.monotonic() + 15
    while run_id in contract_worker.executor.active():  # the executor lets go of it
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ("info", "started") in logs_of(platform, run_id)


def test_memory_limit_fails_the_run(platform: Platform, contract_worker: Worker) -> None:
    source = "import time\nblob = b'x' * (300 * 2**20)\ntime.sleep(30)\n"
    run_id = make_run(platform, source, required_resources={"memory": 64})
    run = wait_state(platform, run_id, timeout=60)
    assert run.state == "failed"
    assert run.error.startswith("Process ran out of its allowed memory"), run.error
    assert run.max_memory_usage is not None and run.max_memory_usage > 64


def test_many_runs_at_once_all_finish(platform: Platform, contract_worker: Worker) -> None:
    ids = [make_run(platform, f"print({i})", cpu=512) for i in range(12)]
    for i, run_id in enumerate(ids):
        assert wait_state(platform, run_id, timeout=120).state == "succeeded"
        assert logs_of(platform, run_id) == [("info", str(i))]
    _drains(contract_worker.executor)


def _drains(executor: Executor, timeout: float = 30) -> None:
    """Wait until the executor has let go of every run."""
    deadline = time.monotonic() + timeout
    while executor.active():
        assert time.monotonic() < deadline, f"runs still active: {executor.active()}"
        time.sleep(0.05)


def test_stopping_the_worker_fails_its_runs_and_kills_them(
    platform: Platform, contract_worker: Worker, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    source = (
        f"import os, time\nopen({str(pids)!r}, 'w').write(f'{{os.getpid()}}\\n')\ntime.sleep(120)\n"
    )
    run_id = make_run(platform, source)
    procs = [int(p) for p in _wait_file(pids).split()]
    contract_worker.stop(timeout=10)
    _wait_dead(procs)
    run = wait_state(platform, run_id)
    assert run.state == "failed" and "server shutdown" in run.error, run.error


def test_a_run_ended_elsewhere_is_stopped(
    platform: Platform, contract_worker: Worker, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    source = (
        f"import os, time\nopen({str(pids)!r}, 'w').write(f'{{os.getpid()}}\\n')\ntime.sleep(120)\n"
    )
    run_id = make_run(platform, source)
    procs = [int(p) for p in _wait_file(pids).split()]
    with platform.transaction() as session:  # what the reaper of another worker would do
        session.execute(
            update(RunRow).where(RunRow.id == run_id).values(state="failed", error="reaped")
        )
    _wait_dead(procs)
    _drains(contract_worker.executor)
    run = wait_state(platform, run_id)
    assert run.state == "failed" and run.error == "reaped"


# --- Ray only: placement across nodes, lost workers, runs too large for any node. ---


@pytest.fixture
def ray_worker(platform: Platform, ray_cluster: RayCluster) -> Iterator[Worker]:
    platform.settings.executor = "ray"
    platform.settings.ray_address = ray_cluster.address
    platform.extras["api_url"] = "http://127.0.0.1:9"
    w = Worker(platform)
    w.start()
    yield w
    w.stop(timeout=10)


def _node_names() -> dict[str, str]:
    import ray

    names = {}
    for node in ray.nodes():
        for name in NODE_RESOURCES:
            if name in node["Resources"]:
                names[node["NodeID"]] = name
    return names


def test_ray_runs_land_on_both_nodes(platform: Platform, ray_worker: Worker) -> None:
    from civica.execution.executors.ray import RayExecutor

    executor = ray_worker.executor
    assert isinstance(executor, RayExecutor)
    assert executor.capacity().cpu == 2 * 1024  # one CPU on each node
    # A whole CPU each: each node holds one at a time, so four runs need both nodes.
    ids = [make_run(platform, "import time\ntime.sleep(1)\n", cpu=1024) for _ in range(4)]
    for run_id in ids:
        assert wait_state(platform, run_id, timeout=120).state == "succeeded"
    _drains(executor)
    names = _node_names()
    landed = {names[executor.placements[run_id].node_id] for run_id in ids}
    assert landed == set(NODE_RESOURCES)


def test_ray_a_crashed_ray_worker_fails_the_run_and_leaves_no_process(
    platform: Platform, ray_worker: Worker, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    source = (
        "import os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '120'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getppid()}} {{os.getpid()}} {{child.pid}}\\n')\n"
        "time.sleep(120)\n"
    )
    run_id = make_run(platform, source)
    ray_worker_pid, *procs = (int(p) for p in _wait_file(pids).split())
    os.kill(ray_worker_pid, signal.SIGKILL)  # what a lost node or a crash looks like from here
    run = wait_state(platform, run_id, timeout=60)
    assert run.state == "failed"
    assert run.error.startswith("the Ray node running this run was lost:"), run.error
    _wait_dead(procs)  # the guard killed the run's process group


def test_ray_a_run_no_node_can_hold_fails_with_what_it_asked_for(
    platform: Platform, ray_worker: Worker
) -> None:
    run_id = make_run(platform, "pass", cpu=4 * 1024)
    assert ray_worker.executor.free() is None  # idle: the worker claims it, however large
    run = wait_state(platform, run_id, timeout=30)
    assert run.state == "failed"
    assert run.error.startswith("no node of the Ray cluster can hold this run: it asks for 4 CPU")


def test_ray_capacity_and_free_come_from_the_cluster(
    platform: Platform, ray_worker: Worker
) -> None:
    executor = ray_worker.executor
    capacity = executor.capacity()
    assert capacity.cpu == 2048 and capacity.memory > 0
    run_id = make_run(platform, "import time\ntime.sleep(30)\n", cpu=1024)
    deadline = time.monotonic() + 30
    while run_id not in executor.active():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    free = executor.free()
    assert free is not None and free.cpu == 1024
    assert free.memory == capacity.memory - 256  # what make_run asks for
    assert Resources(1024, 256).fits_in(free)


def test_ray_scripts_and_queries_work_unchanged_queries_stay_in_the_worker(
    live: LiveServer, ray_cluster: RayCluster
) -> None:
    from civica.execution.executors.ray import RayExecutor

    live.platform.settings.executor = "ray"
    live.platform.settings.ray_address = ray_cluster.address
    live.platform.extras["api_url"] = live.url
    w = Worker(live.platform)
    w.start()
    try:
        assert isinstance(w.executor, RayExecutor)
        _, key = live.new_user("ray_user")
        source = "import civis\nprint(civis.APIClient().users.get_me()['username'])\n"
        with live.client(key) as c:
            sid = c.post("/scripts/python3", json={"name": "on ray", "source": source}).json()["id"]
            run = c.post(f"/scripts/python3/{sid}/runs").json()
            done = wait_run(c, f"/scripts/python3/{sid}/runs/{run['id']}", timeout=60)
            assert done["state"] == "succeeded", done
            logs = c.get(f"/scripts/python3/{sid}/runs/{run['id']}/logs").json()
            assert [entry["message"] for entry in logs] == ["ray_user"]
            database = next(d["id"] for d in c.get("/databases").json() if d["managed"])
            body = {"database": database, "sql": "SELECT 42 AS answer", "preview_rows": 5}
            qid = c.post("/queries", json=body).json()["id"]
            deadline = time.monotonic() + 60
            while (q := c.get(f"/queries/{qid}").json())["state"] not in DONE:
                assert time.monotonic() < deadline, q
                time.sleep(0.05)
            assert q["state"] == "succeeded" and q["resultRows"] == [["42"]], q
        _drains(w.executor)
        assert run["id"] in w.executor.placements  # the script ran as a Ray task
        assert q["lastRunId"] and q["lastRunId"] not in w.executor.placements  # ran here
    finally:
        w.stop(timeout=10)


def test_ray_executor_needs_the_cluster_address(platform: Platform) -> None:
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'civica[ray]'")
    from civica.execution.executors import make_executor

    platform.settings.executor = "ray"
    with pytest.raises(ValueError, match="needs the cluster's address in CIVICA_RAY_ADDRESS"):
        make_executor(platform, "test-worker")
    platform.settings.executor = "spark"
    with pytest.raises(ValueError, match="CIVICA_EXECUTOR must be one of local, ray; got 'spark'"):
        make_executor(platform, "test-worker")

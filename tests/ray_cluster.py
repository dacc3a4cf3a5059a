"""A real two-node Ray cluster on this machine for tests: a head node and a second node, each
started by the `ray` CLI (`ray start --block`) as its own process group, on free ports.

One cluster serves the whole test session, shared by the xdist workers through a state file
under a lock: the first user starts it, the last one to finish stops it (SIGTERM to both process
groups, SIGKILL if they linger). Nodes carry a custom resource (`civica_test_head` and
`civica_test_second`) so tests can tell them apart. CIVICA_TEST_RAY_ADDRESS=host:port uses a
running cluster instead (started the same way, with these resources).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

RAY_CLI = Path(sys.executable).with_name("ray")
STARTED = "Ray runtime started."
NODE_RESOURCES = ("civica_test_head", "civica_test_second")


@dataclass(frozen=True)
class RayCluster:
    address: str
    temp_dir: str
    groups: tuple[int, ...]


def _wait_started(log: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while STARTED not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"`ray start` did not come up (see {log}):\n{tail}")
        time.sleep(0.2)


def _node(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    common = [
        "--block",
        "--num-cpus=1",
        "--node-ip-address=127.0.0.1",
        "--disable-usage-stats",
        "--min-worker-port=0",  # random ports: Ray's default range holds the ports tests pick
        "--max-worker-port=0",
        f"--dashboard-agent-listen-port={free_port()}",
    ]
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(RAY_CLI), "start", *args, *common],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def start_cluster() -> RayCluster:
    """Start the head and the second node; returns once both are up."""
    # Short: Ray puts Unix sockets under it, whose paths must stay under 108 bytes.
    temp_dir = tempfile.mkdtemp(prefix="cray", dir="/tmp")
    env = {**os.environ, "RAY_TMPDIR": temp_dir}
    port = free_port()
    head_log = Path(temp_dir) / "head.log"
    head = _node(
        [
            "--head",
            f"--port={port}",
            f"--temp-dir={temp_dir}",
            "--include-dashboard=false",
            f"--dashboard-port={free_port()}",
            f"--resources={json.dumps({NODE_RESOURCES[0]: 1})}",
        ],
        head_log,
        env,
    )
    groups = [head.pid]
    try:
        _wait_started(head_log, head, 180)
        second_log = Path(temp_dir) / "second.log"
        second = _node(
            [
                f"--address=127.0.0.1:{port}",
                f"--resources={json.dumps({NODE_RESOURCES[1]: 1})}",
            ],
            second_log,
            env,
        )
        groups.append(second.pid)
        _wait_started(second_log, second, 180)
    except BaseException:
        stop_cluster(RayCluster(f"127.0.0.1:{port}", temp_dir, tuple(groups)))
        raise
    return RayCluster(f"127.0.0.1:{port}", temp_dir, tuple(groups))


def stop_cluster(cluster: RayCluster) -> None:
    for pgid in reversed(cluster.groups):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for pgid in cluster.groups:
        while time.monotonic() < deadline and _group_alive(pgid):
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    # `ray start --block` was our child: reap it so it leaves no zombie.
    for pgid in cluster.groups:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pgid, os.WNOHANG)
    shutil.rmtree(cluster.temp_dir, ignore_errors=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if worker_id != "master" else base


@pytest.fixture(scope="session")
def ray_cluster_session(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[RayCluster]:
    """The session's two-node cluster (skips when Ray is not installed)."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'civica[ray]'")
    existing = os.environ.get("CIVICA_TEST_RAY_ADDRESS")
    if existing:  # a cluster started like start_cluster() does, e.g. while iterating on tests
        yield RayCluster(existing, "", ())
        return
    from filelock import FileLock  # installed with Ray

    state = _shared_dir(tmp_path_factory, worker_id) / "ray-cluster.json"
    with FileLock(str(state) + ".lock"):
        if state.exists():
            data = json.loads(state.read_text())
            cluster = RayCluster(data["address"], data["temp_dir"], tuple(data["groups"]))
            data["users"] += 1
        else:
            cluster = start_cluster()
            data = {**cluster.__dict__, "users": 1}
        state.write_text(json.dumps(data))
    try:
        yield cluster
    finally:
        with FileLock(str(state) + ".lock"):
            data = json.loads(state.read_text())
            data["users"] -= 1
            if data["users"] <= 0:
                state.unlink()
                stop_cluster(cluster)
            else:
                state.write_text(json.dumps(data))


@pytest.fixture
def ray_cluster(
    ray_cluster_session: RayCluster, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[RayCluster]:
    """The cluster, for one test at a time across xdist workers: tests look at where runs land
    and what is free, which another test's runs on the same nodes would change."""
    from filelock import FileLock

    with FileLock(str(_shared_dir(tmp_path_factory, worker_id) / "ray-cluster-use.lock")):
        yield ray_cluster_session

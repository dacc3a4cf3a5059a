"""Fault injection: `kill -9` of the server, of a worker and of a run's process, the metadata
database's connections cut, and the metadata database unreachable for a while (behind a proxy
switched off, as in a restart), at points where work is in flight. Afterwards no run is stuck, no
committed object is lost, no process of a dead run keeps running, and every failure says why.
The object store unavailable and the disk full are in `test_storage_faults.py`.

`CIVICA_FAULTS` sets how many random server kills the last test injects (2 by default; the
closing notes report a run with 50: `CIVICA_FAULTS=50 pytest tests/faults -k random -s`).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from civica.execution import queue
from civica.execution.procs import RUN_TAG_VAR
from tests.e2e.conftest import Served, serve_env, start_server, stop_server
from tests.faultproxy import FaultProxy

__all__ = ["serve_env"]

KEY = "faults-admin-key-0123456789abcdef"
DONE = {"succeeded", "failed", "cancelled"}
FAULTS = int(os.environ.get("CIVICA_FAULTS", "2"))


@pytest.fixture
def env(serve_env: dict[str, str]) -> dict[str, str]:
    # The harness polls hundreds of runs with one key: no rate limit (it has its own tests).
    return dict(
        serve_env,
        CIVICA_ADMIN_API_KEY=KEY,
        CIVICA_WORKER_POLL_SECONDS="0.2",
        CIVICA_RATE_LIMIT_PER_MINUTE="0",
    )


def client(served: Served) -> httpx.Client:
    return httpx.Client(base_url=served.url, auth=(KEY, ""), timeout=30)


def kill9(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent, the test's ancestor, reaps it later).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def forever_script(c: httpx.Client, pid_file: Path) -> int:
    source = (
        "import os, pathlib, time\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
        "while True:\n    time.sleep(0.2)\n"
    )
    r = c.post("/scripts/python3", json={"name": "forever", "source": source})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def quick_script(c: httpx.Client, cpu: int = 1024) -> int:
    body = {"name": "quick", "source": "print('done')", "requiredResources": {"cpu": cpu}}
    r = c.post("/scripts/python3", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def run(c: httpx.Client, job: int) -> int:
    r = c.post(f"/jobs/{job}/runs")
    assert r.status_code in (200, 201, 202), r.text
    return int(r.json()["id"])


def wait_file(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def settle(c: httpx.Client, runs: dict[int, int], timeout: float = 120) -> dict[int, dict]:
    """Wait until every run has ended; returns run id -> run."""
    deadline = time.monotonic() + timeout
    seen: dict[int, dict] = {}
    while time.monotonic() < deadline:
        seen = {}
        for rid, job in runs.items():
            r = c.get(f"/jobs/{job}/runs/{rid}")
            assert r.status_code == 200, f"run {rid} of job {job}: {r.status_code} {r.text}"
            seen[rid] = r.json()
        if all(r["state"] in DONE for r in seen.values()):
            return seen
        time.sleep(0.2)
    stuck = {rid: r["state"] for rid, r in seen.items() if r["state"] not in DONE}
    raise AssertionError(f"runs stuck after the fault: {stuck}")


def wait_dead(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), f"process {pid} of a dead run is still running"


def tagged_by(server_pid: int) -> list[int]:
    """Processes still carrying a run tag of workers of the (dead) server process."""
    prefix = f"{RUN_TAG_VAR}={queue._HOST}:{server_pid}:".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            env = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        if any(v.startswith(prefix) for v in env.split(b"\0")) and alive(int(name)):
            found.append(int(name))
    return found


@pytest.fixture
def servers() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for served in started:
        if served.process.poll() is None:
            stop_server(served)


def test_server_kill9_mid_run(tmp_path: Path, env: dict[str, str], servers: list[Served]) -> None:
    data = tmp_path / "data"
    first = start_server(data, env)
    servers.append(first)
    with client(first) as c:
        project = c.post("/projects", json={"name": "kept", "description": ""}).json()
        pid_file = tmp_path / "forever.pid"
        forever = forever_script(c, pid_file)
        running = run(c, forever)
        orphan = int(wait_file(pid_file))
        # Two cores' worth: cannot start beside the run in progress, so it waits in the queue.
        waiting_job = quick_script(c, cpu=2048)
        waiting = run(c, waiting_job)
    kill9(first.process)
    assert alive(orphan), "the run's process outlives the server's kill -9 (the case to handle)"

    second = start_server(data, env)
    servers.append(second)
    with client(second) as c:
        ended = settle(c, {running: forever, waiting: waiting_job})
        assert ended[running]["state"] == "failed"
        assert "worker running it stopped" in ended[running]["error"]
        assert ended[waiting]["state"] == "succeeded"
        assert c.get(f"/projects/{project['id']}").json()["name"] == "kept"
        logs = c.get(f"/jobs/{forever}/runs/{running}/logs").json()
        assert any("worker running it stopped" in line["message"] for line in logs)
    wait_dead(orphan)


def test_worker_kill9_mid_run(tmp_path: Path, env: dict[str, str], servers: list[Served]) -> None:
    data = tmp_path / "data"
    api = start_server(data, dict(env, CIVICA_WORKERS="0"))
    servers.append(api)
    worker_cmd = [sys.executable, "-m", "civica.cli", "worker", "--data-dir", str(data),
                  "--api-url", api.url]  # fmt: skip
    worker = subprocess.Popen(
        worker_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        with client(api) as c:
            pid_file = tmp_path / "forever.pid"
            forever = forever_script(c, pid_file)
            running = run(c, forever)
            orphan = int(wait_file(pid_file))
            kill9(worker)
            worker = subprocess.Popen(worker_cmd, env=env, stdout=subprocess.DEVNULL)
            after = quick_script(c)
            later = run(c, after)
            ended = settle(c, {running: forever, later: after})
            assert ended[running]["state"] == "failed"
            assert "worker running it stopped" in ended[running]["error"]
            assert ended[later]["state"] == "succeeded"
        wait_dead(orphan)
    finally:
        worker.terminate()
        worker.wait(15)


@pytest.mark.sqlite_only("a run process's death is seen by its runner, whatever the store")
def test_run_process_kill9(tmp_path: Path, env: dict[str, str], servers: list[Served]) -> None:
    served = start_server(tmp_path / "data", env)
    servers.append(served)
    with client(served) as c:
        pid_file = tmp_path / "forever.pid"
        forever = forever_script(c, pid_file)
        running = run(c, forever)
        os.kill(int(wait_file(pid_file)), signal.SIGKILL)
        ended = settle(c, {running: forever})
    assert ended[running]["state"] == "failed"
    assert ended[running]["error"] == "Process was killed by signal SIGKILL."


def test_metadata_connections_cut(
    tmp_path: Path, env: dict[str, str], servers: list[Served], metadata_url: str
) -> None:
    if metadata_url.startswith("sqlite"):
        pytest.skip("cutting the metadata database's connections needs PostgreSQL")
    from sqlalchemy import create_engine, make_url, text

    served = start_server(tmp_path / "data", env)
    servers.append(served)
    name = make_url(metadata_url).database
    admin = create_engine(
        make_url(metadata_url).set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with client(served) as c:
        made = [c.post("/projects", json={"name": f"p{i}", "description": ""}) for i in range(3)]
        with admin.connect() as conn:
            cut = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": name},
            ).scalar()
        assert cut and cut > 0
        # Pooled connections are checked before use: the next calls reconnect and succeed.
        for r in made:
            assert c.get(f"/projects/{r.json()['id']}").status_code == 200
        job = quick_script(c)
        rid = run(c, job)
        assert settle(c, {rid: job})[rid]["state"] == "succeeded"
    admin.dispose()


def test_metadata_database_outage(
    tmp_path: Path, env: dict[str, str], servers: list[Served], metadata_url: str
) -> None:
    """The metadata database unreachable for a while (a restart, a network cut): requests get a
    503 that says so, a run that ends meanwhile records its end and its log once the database is
    back, and nothing committed is lost."""
    if metadata_url.startswith("sqlite"):
        pytest.skip("an outage of the metadata database's server needs PostgreSQL")
    from sqlalchemy import make_url

    url = make_url(metadata_url)
    with FaultProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        served = start_server(
            tmp_path / "data",
            dict(env, CIVICA_DATABASE_URL=through, CIVICA_AUTH_CACHE_SECONDS="0"),
        )
        servers.append(served)
        with client(served) as c:
            project = c.post("/projects", json={"name": "kept", "description": ""}).json()
            source = "import time\nprint('before', flush=True)\ntime.sleep(3)\nprint('after')\n"
            r = c.post("/scripts/python3", json={"name": "through", "source": source})
            job = int(r.json()["id"])
            rid = run(c, job)
            deadline = time.monotonic() + 30
            # Its process has started (a failure before that is reported as such, not retried).
            while not c.get(f"/jobs/{job}/runs/{rid}/logs").json():
                assert time.monotonic() < deadline, "the run never started"
                time.sleep(0.1)

            proxy.down()
            for r in (
                c.post("/projects", json={"name": "lost", "description": ""}),
                c.get(f"/projects/{project['id']}"),
            ):
                assert r.status_code == 503, r.text
                assert "metadata database is unavailable" in r.json()["errorDescription"]
                assert r.headers["retry-after"]
            time.sleep(5)  # the run ends during the outage

            proxy.up()
            ended = settle(c, {rid: job})
            assert ended[rid]["state"] == "succeeded", ended[rid]
            logs = [line["message"] for line in c.get(f"/jobs/{job}/runs/{rid}/logs").json()]
            assert "before" in logs and "after" in logs
            assert c.get(f"/projects/{project['id']}").json()["name"] == "kept"
            names = [p["name"] for p in c.get("/projects").json()]
            assert "lost" not in names
            assert c.post("/projects", json={"name": "new", "description": ""}).status_code == 200


@pytest.mark.sqlite_only("recovery is the queue's; the other fault tests cover PostgreSQL")
@pytest.mark.timeout(240 + 30 * FAULTS)
def test_random_server_kills(tmp_path: Path, env: dict[str, str], servers: list[Served]) -> None:
    """FAULTS times: load (creates and runs) from two threads, kill -9 at a random moment,
    restart; every create that was answered survives, every run ends, nothing is left running."""
    data = tmp_path / "data"
    rng = random.Random(20261127)
    committed: list[int] = []
    runs: dict[int, int] = {}
    for fault in range(FAULTS):
        served = start_server(data, env)
        servers.append(served)
        stop = threading.Event()

        def load(served: Served, stop: threading.Event, fault: int) -> None:
            with client(served) as c:
                job = None
                while not stop.is_set():
                    try:
                        r = c.post("/projects", json={"name": f"f{fault}", "description": ""})
                        if r.status_code == 200:
                            committed.append(int(r.json()["id"]))
                        if job is None:
                            job = quick_script(c)
                        rid = run(c, job)
                        runs[rid] = job
                    except (httpx.HTTPError, AssertionError):
                        return  # the server went away mid-call: that call's outcome is unknown

        threads = [threading.Thread(target=load, args=(served, stop, fault)) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.2, 2.0))
        kill9(served.process)
        stop.set()
        for t in threads:
            t.join(30)
    final = start_server(data, env)
    servers.append(final)
    with client(final) as c:
        missing = [p for p in committed if c.get(f"/projects/{p}").status_code != 200]
        assert not missing, f"committed projects lost: {missing}"
        ended = settle(c, runs, timeout=300)
    bad = {rid: r for rid, r in ended.items() if r["state"] == "failed" and not r["error"]}
    assert not bad
    for served in servers[:-1]:
        assert not tagged_by(served.process.pid), "a dead server's runs left processes behind"
    print(
        f"\n{FAULTS} server kills: {len(committed)} committed objects, all present; "
        f"{len(ended)} runs, all ended "
        f"({sum(r['state'] == 'succeeded' for r in ended.values())} succeeded, "
        f"{sum(r['state'] == 'failed' for r in ended.values())} failed with an error)"
    )

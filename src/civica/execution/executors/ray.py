"""Runs as Ray tasks on a Ray cluster (`CIVICA_EXECUTOR=ray`, `CIVICA_RAY_ADDRESS`; `civica[ray]`).

Each claimed run becomes one task reserving the run's required_resources (CPU shares / 1024 as
`num_cpus`, memory in bytes). The task runs the same Runner as the local executor, on whichever
node Ray places it: the Runner writes logs and the outcome to the metadata database, so every node
must reach that database (PostgreSQL in production) and the API (CIVICA_PUBLIC_URL).

Inside the task the Runner works in a thread while the task's main thread watches the run in the
database (a user's cancel, or the run ended elsewhere) and hands the run's process group to a
guard process that kills it should the Ray worker die. The driver side (this worker) learns the end
of each task and fails runs whose task was lost with the node, crashed or was never placed.

Kinds that run inside the worker process (SQL, models, previews: InProcessRuntime) stay on a local
executor here: the embedded DuckDB file can only be opened by the server's process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import IO, Any

import ray
import ray._private.ray_constants as ray_constants
import ray.exceptions

from civica.db.models import JobRow, RunRow
from civica.execution import queue
from civica.execution.executors.base import Executor
from civica.execution.executors.local import LocalExecutor
from civica.execution.params import effective_script
from civica.execution.queue import Claimed
from civica.execution.resources import MIB, SHARES_PER_CORE, Resources
from civica.execution.runner import Control, Runner, api_url
from civica.execution.runtimes import RUNTIMES, InProcessRuntime
from civica.platform import Platform
from civica.services.errors import ServiceError
from civica.settings import Settings

log = logging.getLogger("civica.execution")

WATCH_SECONDS = 0.2  # how often a task looks at its run in the database
CLUSTER_CACHE_SECONDS = 2.0  # how long the cluster's resources are trusted before asking again
PLACEMENTS = 10_000  # recent runs whose node is remembered
SHUTDOWN_MESSAGE = "the worker running it stopped (server shutdown); run the job again."


# --- The connection to the cluster: one per process, shared by its executors. ---

_connection_lock = threading.Lock()
_connection_users = 0


def _connect(address: str) -> None:
    global _connection_users
    with _connection_lock:
        if not ray.is_initialized():
            # Ray would take over SIGTERM (a bare exit in the main thread, a stack dump from its
            # C++ handler): keep the process's own handler so `civica serve`/`worker` stop their
            # runs cleanly.
            if "RAY_DISABLE_FAILURE_SIGNAL_HANDLER" not in os.environ:  # read at import time
                ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = True
            main = threading.current_thread() is threading.main_thread()
            previous = signal.getsignal(signal.SIGTERM) if main else None
            ray.init(
                address=address,
                namespace="civica",
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        _connection_users += 1


def _disconnect() -> None:
    global _connection_users
    with _connection_lock:
        _connection_users -= 1
        if _connection_users <= 0 and ray.is_initialized():
            _connection_users = 0
            ray.shutdown()


# --- What happens on a node: the task. ---

_GUARD = """
import os, signal, sys
groups = set()
for line in sys.stdin:
    op, _, pgid = line.strip().partition(" ")
    if op == "+":
        groups.add(int(pgid))
    elif op == "-":
        groups.discard(int(pgid))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


class _Guard:
    """A small process per Ray worker that kills the runs' process groups if the worker dies.

    Runs start in their own session, so when Ray kills a worker (its node lost, a crash, a forced
    cancel) nothing else would stop them. The guard reads "+ pgid" / "- pgid" lines; when its
    stdin closes, which happens however the worker ends, it kills every group still listed.
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _GUARD],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )

    def tell(self, op: str, pgid: int) -> None:
        pipe: IO[str] | None = self.proc.stdin
        if pipe is not None:
            with contextlib.suppress(OSError, ValueError):
                pipe.write(f"{op} {pgid}\n")
                pipe.flush()


_node_lock = threading.Lock()
_node_platforms: dict[str, Platform] = {}
_node_guard: _Guard | None = None
NODE_PLATFORMS = 4  # platforms (one per distinct settings) kept open in one Ray worker


def _node_platform(values: dict[str, Any], url: str | None) -> Platform:
    """The Platform for these settings in this Ray worker process, opened once and kept."""
    key = json.dumps(values, sort_keys=True, default=str)
    with _node_lock:
        platform = _node_platforms.get(key)
        if platform is None:
            while len(_node_platforms) >= NODE_PLATFORMS:
                oldest = next(iter(_node_platforms))
                _node_platforms.pop(oldest).close()
            platform = Platform.open(Settings(**values))
            _node_platforms[key] = platform
    if url:
        platform.extras["api_url"] = url
    return platform


def _guard() -> _Guard:
    global _node_guard
    with _node_lock:
        if _node_guard is None or _node_guard.proc.poll() is not None:
            _node_guard = _Guard()
        return _node_guard


def _run_groups(tid: int) -> set[int]:
    """Process groups led by children of thread `tid` of this process (the run's process)."""
    try:
        with open(f"/proc/self/task/{tid}/children") as fh:
            pids = [int(p) for p in fh.read().split()]
    except (OSError, ValueError):
        return set()
    groups = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                groups.add(pid)
    return groups


def _stop_reason(platform: Platform, run_id: int, worker_id: str) -> str | None:
    """Why the run should stop now, from the database: "cancelled", "lost", or None."""
    with platform.transaction() as session:
        run = session.get(RunRow, run_id)
        if run is None:
            return "lost"
        if run.is_cancel_requested:
            return "cancelled"
        if run.worker_id == worker_id and run.state == "failed" and run.error == SHUTDOWN_MESSAGE:
            return "shutdown"  # the worker that owns it is stopping (RayExecutor.shutdown)
        if run.state != "running" or run.worker_id != worker_id:
            return "lost"
    return None


def execute_on_node(
    values: dict[str, Any], url: str | None, run_id: int, worker_id: str
) -> dict[str, Any]:
    """The Ray task: run `run_id` with the Runner here, watching for cancellation."""
    platform = _node_platform(values, url)
    control = Control()
    states: list[str] = []
    runner = Runner(platform, run_id, worker_id, control)
    thread = threading.Thread(
        target=lambda: states.append(runner.execute()), name=f"civica-run-{run_id}", daemon=True
    )
    guard = _guard()
    groups: set[int] = set()
    thread.start()
    next_look = 0.0
    while thread.is_alive():
        try:
            thread.join(0.02 if not groups else WATCH_SECONDS)
            if not thread.is_alive():
                break
            if thread.native_id is not None:
                for pgid in _run_groups(thread.native_id) - groups:
                    guard.tell("+", pgid)
                    groups.add(pgid)
            now = time.monotonic()
            if now >= next_look:
                next_look = now + WATCH_SECONDS
                try:
                    reason = _stop_reason(platform, run_id, worker_id)
                except Exception:  # the database may be briefly unavailable: look again soon
                    log.warning("run %s: could not look at the run", run_id, exc_info=True)
                    reason = None
                if reason is not None:
                    control.stop(reason)
        except KeyboardInterrupt:  # where ray.cancel interrupts running tasks: stop the run
            reason = None
            with contextlib.suppress(Exception, KeyboardInterrupt):
                reason = _stop_reason(platform, run_id, worker_id)
            control.stop(reason or "lost")
    for pgid in groups:
        guard.tell("-", pgid)
    context = ray.get_runtime_context()
    return {
        "state": states[0] if states else "",
        "node_id": context.get_node_id(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


_remote_execute = ray.remote(execute_on_node)


# --- The driver side: this worker's view of its tasks. ---


@dataclass
class _Task:
    need: Resources
    ref: Any  # ray.ObjectRef
    stopping: str = ""


@dataclass
class Placement:
    """Where a run's task ran (for logs, tests and operators)."""

    node_id: str
    host: str
    pid: int


@dataclass
class _Cluster:
    at: float = -1e9
    total: Resources = field(default_factory=lambda: Resources(0, 0))
    nodes: list[Resources] = field(default_factory=list)


def _resources(values: dict[str, float]) -> Resources:
    return Resources(
        cpu=int(values.get("CPU", 0) * SHARES_PER_CORE), memory=int(values.get("memory", 0) // MIB)
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]


def failure_message(exc: BaseException) -> str:
    """The error a run gets when its Ray task ended without the Runner recording an end."""
    if isinstance(exc, ray.exceptions.OutOfMemoryError):
        return (
            "Ray's memory monitor killed the worker running this run because its node ran low on "
            f"memory: {_first_line(exc)}. Run the job again, or ask for more memory."
        )
    if isinstance(exc, ray.exceptions.RayTaskError):
        return f"the Ray task running this run failed: {_first_line(exc)}"
    return f"the Ray node running this run was lost: {_first_line(exc)}. Run the job again."


class RayExecutor(Executor):
    def __init__(self, platform: Platform, worker_id: str) -> None:
        settings = platform.settings
        if not settings.ray_address:
            raise ValueError(
                "CIVICA_EXECUTOR=ray needs the cluster's address in CIVICA_RAY_ADDRESS "
                "(e.g. 10.0.0.5:6379, or `auto` on a node of the cluster)"
            )
        self.platform = platform
        self.worker_id = worker_id
        self._local = LocalExecutor(platform, worker_id)
        self._tasks: dict[int, _Task] = {}
        self._local_needs: dict[int, Resources] = {}
        self._lock = threading.Lock()
        self._cluster = _Cluster()
        self.placements: dict[int, Placement] = {}
        self._done: SimpleQueue[tuple[int, Future[Any]] | None] = SimpleQueue()
        _connect(settings.ray_address)
        self._closed = False
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="civica-ray-results", daemon=True
        )
        self._dispatcher.start()

    # Resources.

    def _cluster_view(self) -> _Cluster:
        now = time.monotonic()
        if now - self._cluster.at > CLUSTER_CACHE_SECONDS:
            alive = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
            total = ray.cluster_resources()  # type: ignore[no-untyped-call]
            nodes = [_resources(n["Resources"]) for n in alive]
            self._cluster = _Cluster(at=now, total=_resources(total), nodes=nodes)
        return self._cluster

    def capacity(self) -> Resources:
        return self._cluster_view().total

    def _used(self) -> Resources:
        local = set(self._local.active())
        for run_id in list(self._local_needs):
            if run_id not in local:
                del self._local_needs[run_id]
        used = Resources(0, 0)
        for need in [t.need for t in self._tasks.values()] + list(self._local_needs.values()):
            used = used + need
        return used

    def free(self) -> Resources | None:
        capacity = self.capacity()
        with self._lock:
            used = self._used()
            if not self._tasks and not self._local_needs:
                return None
            return capacity - used

    def has_room(self) -> bool:
        free = self.free()
        return free is None or (free.cpu > 0 and free.memory > 0)

    def active(self) -> list[int]:
        with self._lock:
            return [*self._tasks, *self._local.active()]

    # Runs.

    def _runs_in_process(self, run_id: int) -> bool:
        try:
            with self.platform.transaction() as session:
                run = session.get(RunRow, run_id)
                job = session.get(JobRow, run.job_id) if run is not None else None
                if job is None:
                    return False
                runtime = RUNTIMES.get(effective_script(session, job).kind)
        except ServiceError:
            return False
        return isinstance(runtime, InProcessRuntime)

    def submit(self, claimed: Claimed) -> None:
        if self._runs_in_process(claimed.run_id):
            with self._lock:
                self._local_needs[claimed.run_id] = claimed.need
            self._local.submit(claimed)
            return
        need = claimed.need
        nodes = self._cluster_view().nodes
        if not any(need.fits_in(node) for node in nodes):
            largest = max(nodes, key=lambda n: (n.cpu, n.memory), default=Resources(0, 0))
            queue.finish(
                self.platform,
                claimed.run_id,
                "failed",
                f"no node of the Ray cluster can hold this run: it asks for "
                f"{need.cpu / SHARES_PER_CORE:g} CPU and {need.memory} MiB "
                f"(required_resources), the largest node has {largest.cpu / SHARES_PER_CORE:g} "
                f"CPU and {largest.memory} MiB for tasks. Ask for less, or add a larger node.",
            )
            queue.wake_local()
            return
        ref = _remote_execute.options(
            num_cpus=need.cpu / SHARES_PER_CORE,
            memory=need.memory * MIB,
            max_retries=0,
            retry_exceptions=False,
            name=f"civica-run-{claimed.run_id}",
        ).remote(self._node_settings(), api_url(self.platform), claimed.run_id, self.worker_id)
        with self._lock:
            self._tasks[claimed.run_id] = _Task(need, ref)
        future: Future[Any] = ref.future()
        future.add_done_callback(self._on_done(claimed.run_id))

    def _node_settings(self) -> dict[str, Any]:
        """This worker's settings as the task rebuilds them on the node (data_dir absolute)."""
        settings = self.platform.settings
        values = settings.model_dump(mode="json")
        values["data_dir"] = str(Path(settings.data_dir).resolve())
        return values

    def _on_done(self, run_id: int) -> Callable[[Future[Any]], None]:
        # Ray calls this on one of its own threads: hand over, do the database work elsewhere.
        return lambda future: self._done.put((run_id, future))

    def _dispatch(self) -> None:
        while True:
            item = self._done.get()
            if item is None:
                return
            run_id, future = item
            try:
                self._record(run_id, future)
            except Exception:  # the database may be briefly unavailable; the reaper catches up
                log.exception("run %s: recording the end of its Ray task failed", run_id)
            finally:
                with self._lock:
                    self._tasks.pop(run_id, None)
                queue.wake_local()  # resources are free: look for the next run now

    def _record(self, run_id: int, future: Future[Any]) -> None:
        try:
            result = future.result()
        except ray.exceptions.TaskCancelledError:
            return  # dropped before it started, by stop_run, which saw to the run's state
        except Exception as exc:
            log.warning("run %s: its Ray task ended abnormally: %s", run_id, exc)
            queue.finish(self.platform, run_id, "failed", failure_message(exc))
            return
        self.placements[run_id] = Placement(result["node_id"], result["host"], result["pid"])
        while len(self.placements) > PLACEMENTS:
            del self.placements[next(iter(self.placements))]
        log.debug("run %s ran on Ray node %s (%s)", run_id, result["node_id"], result["host"])

    def stop_run(self, run_id: int, reason: str) -> None:
        with self._lock:
            task = self._tasks.get(run_id)
            first = task is not None and not task.stopping
            if task is not None and first:
                task.stopping = reason
        if task is None:
            self._local.stop_run(run_id, reason)
            return
        if not first:
            return  # already being stopped (the worker repeats cancellations every tick)
        # A running task learns from the database why it must stop (cancel requested, run ended
        # elsewhere, or failed by shutdown() here) and stops its Runner, which sends SIGTERM and
        # SIGKILL after the grace; a task Ray has not started yet is dropped by ray.cancel.
        if reason == "shutdown":
            queue.finish(self.platform, run_id, "failed", SHUTDOWN_MESSAGE)
        with contextlib.suppress(Exception):
            ray.cancel(task.ref, force=False)

    def shutdown(self, timeout: float) -> None:
        if self._closed:
            return
        deadline = time.monotonic() + timeout
        for run_id in self.active():
            self.stop_run(run_id, "shutdown")
        while self._tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            left = list(self._tasks.items())
        for run_id, task in left:  # still running: kill the Ray worker (its guard kills the run)
            with contextlib.suppress(Exception):
                ray.cancel(task.ref, force=True)
            queue.finish(self.platform, run_id, "failed", SHUTDOWN_MESSAGE)
        self._local.shutdown(max(0.0, deadline - time.monotonic()))
        self._closed = True
        self._done.put(None)
        self._dispatcher.join(5)
        _disconnect()

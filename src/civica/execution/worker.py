"""A worker: claims queued runs that fit its executor, beats for the runs it has, forwards
cancellations, and fails runs whose worker died. `civica serve` runs CIVICA_WORKERS of them in
its own process; `civica worker` runs one alone."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import OperationalError

from civica.execution import queue
from civica.execution.executors import make_executor
from civica.execution.executors.base import Executor
from civica.platform import Platform

log = logging.getLogger("civica.execution")
ACTIVE_TICK = 0.1  # how often a worker with runs checks for cancellations


class Worker:
    def __init__(self, platform: Platform, executor: Executor | None = None) -> None:
        self.platform = platform
        self.worker_id = queue.new_worker_id()
        self.executor = executor or make_executor(platform, self.worker_id)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_beat = 0.0

    def start(self) -> None:
        """Fail what dead workers left running, then start claiming in a background thread."""
        queue.fail_orphans(self.platform)
        queue.reap_stale(self.platform, self.platform.settings.heartbeat_timeout_seconds)
        queue.add_waker(self._wake)
        self._thread = threading.Thread(target=self._loop, name="civica-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, stop the runs in progress (they are failed as a shutdown), and wait."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.executor.shutdown(timeout)
        queue.remove_waker(self._wake)
        queue.retire_worker_id(self.worker_id)

    def _loop(self) -> None:
        settings = self.platform.settings
        while not self._stopping.is_set():
            try:
                self.tick()
            except OperationalError as exc:  # the database is down or full for now: keep going
                log.warning("worker %s: the metadata database failed: %s", self.worker_id, exc.orig)
                time.sleep(min(1.0, settings.worker_poll_seconds))
            except Exception:  # a bug: log it, and keep going
                log.exception("worker %s: tick failed", self.worker_id)
                time.sleep(min(1.0, settings.worker_poll_seconds))
            wait = settings.worker_poll_seconds
            if self.executor.active():
                wait = min(wait, ACTIVE_TICK)
            self._wake.wait(wait)
            self._wake.clear()

    def tick(self) -> None:
        settings = self.platform.settings
        while not self._stopping.is_set() and self.executor.has_room():
            claimed = queue.claim(self.platform, self.worker_id, self.executor.free())
            if claimed is None:
                break
            self.executor.submit(claimed)
        active = self.executor.active()
        if active:
            for run_id in queue.cancel_requested(self.platform, active):
                self.executor.stop_run(run_id, "cancelled")
        now = time.monotonic()
        if now - self._last_beat >= settings.heartbeat_seconds:
            self._last_beat = now
            active = self.executor.active()
            still_ours = queue.heartbeat(self.platform, self.worker_id, active)
            for run_id in set(active) - still_ours:
                self.executor.stop_run(run_id, "lost")
            queue.reap_stale(self.platform, settings.heartbeat_timeout_seconds)


def start_workers(platform: Platform) -> list[Worker]:
    """The in-process workers of `civica serve` (CIVICA_WORKERS, default 1)."""
    workers = [Worker(platform) for _ in range(max(0, platform.settings.workers))]
    for worker in workers:
        worker.start()
    return workers


def stop_workers(workers: list[Worker], timeout: float = 10.0) -> None:
    for worker in workers:
        worker.stop(timeout)

"""Runs as subprocesses of this machine, admitted by CPU and memory against a slot pool sized to
the machine (or to CIVICA_WORKER_CPUS / CIVICA_WORKER_MEMORY_MB)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from civica.execution import queue
from civica.execution.executors.base import Executor
from civica.execution.queue import Claimed
from civica.execution.resources import Resources, machine
from civica.execution.runner import Control, Runner
from civica.platform import Platform


@dataclass
class _Active:
    need: Resources
    control: Control
    thread: threading.Thread


class LocalExecutor(Executor):
    def __init__(self, platform: Platform, worker_id: str) -> None:
        settings = platform.settings
        self.platform = platform
        self.worker_id = worker_id
        self._capacity = machine(settings.worker_cpus, settings.worker_memory_mb)
        self._runs: dict[int, _Active] = {}
        self._lock = threading.Lock()

    def capacity(self) -> Resources:
        return self._capacity

    def _used(self) -> Resources:
        used = Resources(0, 0)
        for active in self._runs.values():
            used = used + active.need
        return used

    def free(self) -> Resources | None:
        with self._lock:
            if not self._runs:
                return None
            return self._capacity - self._used()

    def has_room(self) -> bool:
        free = self.free()
        return free is None or (free.cpu > 0 and free.memory > 0)

    def active(self) -> list[int]:
        with self._lock:
            return list(self._runs)

    def submit(self, claimed: Claimed) -> None:
        control = Control()
        runner = Runner(
            self.platform, claimed.run_id, self.worker_id, control, on_done=self._finished
        )
        thread = threading.Thread(
            target=runner.execute, name=f"civica-run-{claimed.run_id}", daemon=True
        )
        with self._lock:
            self._runs[claimed.run_id] = _Active(claimed.need, control, thread)
        thread.start()

    def _finished(self, run_id: int) -> None:
        with self._lock:
            self._runs.pop(run_id, None)
        queue.wake_local()  # a slot is free: look for the next run now

    def stop_run(self, run_id: int, reason: str) -> None:
        with self._lock:
            active = self._runs.get(run_id)
        if active is not None:
            active.control.stop(reason)

    def shutdown(self, timeout: float) -> None:
        with self._lock:
            actives = list(self._runs.values())
        for active in actives:
            active.control.stop("shutdown")
        deadline = time.monotonic() + timeout
        for active in actives:
            active.thread.join(max(0.0, deadline - time.monotonic()))

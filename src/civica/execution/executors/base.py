"""The executor contract: where the runner runs. A worker asks it what fits, hands it claimed
runs, and forwards cancellations; the executor never touches the queue itself."""

from __future__ import annotations

from abc import ABC, abstractmethod

from civica.execution.queue import Claimed
from civica.execution.resources import Resources


class Executor(ABC):
    @abstractmethod
    def capacity(self) -> Resources:
        """Everything this executor can hand out at once."""

    @abstractmethod
    def free(self) -> Resources | None:
        """What a new run may still use; None when idle (any run fits, however large)."""

    @abstractmethod
    def has_room(self) -> bool:
        """Whether another run could be admitted now."""

    @abstractmethod
    def active(self) -> list[int]:
        """Ids of the runs executing now."""

    @abstractmethod
    def submit(self, claimed: Claimed) -> None:
        """Start executing a run this worker claimed."""

    @abstractmethod
    def stop_run(self, run_id: int, reason: str) -> None:
        """Stop a run: "cancelled" by a user, "lost" (no longer ours) or "shutdown"."""

    @abstractmethod
    def shutdown(self, timeout: float) -> None:
        """Stop every run and wait up to `timeout` seconds for them to end."""

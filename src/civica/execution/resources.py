"""What a run asks for and what a worker has: CPU shares (1024 a core) and memory in MiB."""

from __future__ import annotations

import os
from dataclasses import dataclass

SHARES_PER_CORE = 1024
MIB = 1024 * 1024


@dataclass(frozen=True)
class Resources:
    cpu: int
    memory: int

    def __sub__(self, other: Resources) -> Resources:
        return Resources(cpu=self.cpu - other.cpu, memory=self.memory - other.memory)

    def __add__(self, other: Resources) -> Resources:
        return Resources(cpu=self.cpu + other.cpu, memory=self.memory + other.memory)

    def fits_in(self, other: Resources) -> bool:
        return self.cpu <= other.cpu and self.memory <= other.memory


def machine_memory_mb() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MIB)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 4096


def machine(cpus: float | None = None, memory_mb: int | None = None) -> Resources:
    """This machine's capacity, or the configured share of it."""
    cores = cpus if cpus is not None else float(os.cpu_count() or 1)
    return Resources(
        cpu=max(1, int(cores * SHARES_PER_CORE)),
        memory=memory_mb if memory_mb is not None else machine_memory_mb(),
    )

"""Finding a run's processes after its worker died (Linux /proc).

Every run's process tree carries `CIVICA_RUN_TAG=<worker id>/<run id>` in its environment (children
inherit it). When a worker dies with `kill -9`, its runs' processes live on, reparented; the next
worker on the host fails those runs and calls `kill_tagged` so nothing keeps running (or holding
a warehouse connection) for a run that is over.
"""

from __future__ import annotations

import contextlib
import os
import signal

RUN_TAG_VAR = "CIVICA_RUN_TAG"


def run_tag(worker_id: str, run_id: int) -> str:
    return f"{worker_id}/{run_id}"


def tagged_pids(tag: str) -> list[int]:
    """Processes of this user whose environment carries `tag`."""
    needle = f"{RUN_TAG_VAR}={tag}".encode()
    found: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    me = os.getpid()
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                env = fh.read()
        except OSError:  # gone, or not ours
            continue
        if needle in env.split(b"\0"):
            found.append(int(name))
    return found


def kill_tagged(tag: str) -> int:
    """SIGKILL every process carrying `tag`; returns how many were signalled."""
    pids = tagged_pids(tag)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)

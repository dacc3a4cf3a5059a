"""The run queue lives in the metadata database: `runs` rows in state `queued`.

Claiming is one statement, so any number of workers (threads or processes, on any hosts sharing
one PostgreSQL) take each run exactly once: `SELECT ... FOR UPDATE SKIP LOCKED` then `UPDATE` on
PostgreSQL, a single `UPDATE ... WHERE state = 'queued' ... RETURNING` on SQLite (whose writers
are serialised). Workers beat `heartbeat_at` on their runs; a run whose worker stopped beating is
failed by whichever worker notices first, so nothing stays `running` forever.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, event, insert, select, update
from sqlalchemy.orm import Session

from civica.db.models import ApiKeyRow, JobRow, RunLogRow, RunRow
from civica.execution import procs
from civica.execution.resources import Resources
from civica.platform import Platform

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
DONE = frozenset({"succeeded", "failed", "cancelled"})
LIVE = frozenset({"queued", "running"})
RESTART_ERROR = "the worker running it stopped (server restart?)"
log = logging.getLogger("civica.execution")

_RUNS = cast(Table, RunRow.__table__)
_WAKE = "civica_wake_workers"
_BATCH = "civica_enqueue_batch"


def now() -> datetime:
    return datetime.now(UTC)


# --- Waking workers in this process as soon as a run is committed (others poll). ---

_wakers: set[threading.Event] = set()
_wakers_lock = threading.Lock()


def add_waker(event_: threading.Event) -> None:
    with _wakers_lock:
        _wakers.add(event_)


def remove_waker(event_: threading.Event) -> None:
    with _wakers_lock:
        _wakers.discard(event_)


def wake_local() -> None:
    with _wakers_lock:
        for ev in _wakers:
            ev.set()


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(_WAKE, False):
        wake_local()


# --- Worker identity: host:pid:token, so a restarted process can tell its dead runs apart. ---

_HOST = socket.gethostname()[:80]
_live_tokens: set[str] = set()


def new_worker_id() -> str:
    token = uuid.uuid4().hex[:12]
    _live_tokens.add(token)
    return f"{_HOST}:{os.getpid()}:{token}"


def retire_worker_id(worker_id: str) -> None:
    _live_tokens.discard(worker_id.rsplit(":", 1)[-1])


def _is_dead_here(worker_id: str | None) -> bool:
    """True when `worker_id` was a worker on this host that no longer exists."""
    if not worker_id:
        return True
    host, _, rest = worker_id.partition(":")
    pid_text, _, token = rest.partition(":")
    if host != _HOST:
        return False
    try:
        pid = int(pid_text)
    except ValueError:
        return True
    if pid == os.getpid():
        return token not in _live_tokens
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # The pid exists: it may be a new process that reused the number; trust its heartbeats.
    return False


# --- Queueing and claiming. ---


def enqueue(session: Session, job: JobRow, *, triggered_by: int | None, need: Resources) -> RunRow:
    """A new queued run of `job`; workers in this process wake when the transaction commits."""
    run = RunRow(
        job_id=job.id,
        state="queued",
        triggered_by_id=triggered_by,
        cpu=need.cpu,
        memory=need.memory,
        queued_at=now(),
    )
    session.add(run)
    batch = session.info.get(_BATCH)
    if batch is not None:  # inside batch_enqueue: one flush for the whole batch
        batch.append((job, run))
    else:
        session.flush()
        job.last_run_id = run.id
    session.info[_WAKE] = True
    return run


@contextmanager
def batch_enqueue(session: Session) -> Iterator[None]:
    """Queue many runs with one flush (the scheduler starting a slot's jobs): runs enqueued
    inside the block get their ids, and their jobs their last_run_id, when it ends."""
    batch: list[tuple[JobRow, RunRow]] = []
    session.info[_BATCH] = batch
    try:
        yield
    finally:
        session.info.pop(_BATCH, None)
    session.flush()
    for job, run in batch:
        job.last_run_id = run.id


@dataclass(frozen=True)
class Claimed:
    run_id: int
    job_id: int
    need: Resources


def claim(platform: Platform, worker_id: str, free: Resources | None) -> Claimed | None:
    """Take the oldest queued run that fits in `free` (any run when `free` is None)."""
    conds: list[Any] = [_RUNS.c.state == "queued"]
    if free is not None:
        conds += [_RUNS.c.cpu <= free.cpu, _RUNS.c.memory <= free.memory]
    stamp = now()
    values = {
        "state": "running",
        "worker_id": worker_id,
        "started_at": stamp,
        "heartbeat_at": stamp,
    }
    cols = (_RUNS.c.id, _RUNS.c.job_id, _RUNS.c.cpu, _RUNS.c.memory)
    with platform.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            run_id = session.scalar(
                select(_RUNS.c.id)
                .where(*conds)
                .order_by(_RUNS.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if run_id is None:
                return None
            row = session.execute(
                update(_RUNS).where(_RUNS.c.id == run_id).values(values).returning(*cols)
            ).first()
        else:
            first = select(_RUNS.c.id).where(*conds).order_by(_RUNS.c.id).limit(1)
            row = session.execute(
                update(_RUNS)
                .where(_RUNS.c.id == first.scalar_subquery(), _RUNS.c.state == "queued")
                .values(values)
                .returning(*cols)
            ).first()
        if row is None:
            return None
        return Claimed(run_id=row.id, job_id=row.job_id, need=Resources(row.cpu, row.memory))


def heartbeat(platform: Platform, worker_id: str, run_ids: Iterable[int]) -> set[int]:
    """Beat for our runs; returns those still ours and running (others were cancelled or reaped)."""
    ids = list(run_ids)
    if not ids:
        return set()
    with platform.transaction() as session:
        rows = session.execute(
            update(_RUNS)
            .where(_RUNS.c.id.in_(ids), _RUNS.c.worker_id == worker_id, _RUNS.c.state == "running")
            .values(heartbeat_at=now())
            .returning(_RUNS.c.id)
        ).all()
    return {r.id for r in rows}


def cancel_requested(platform: Platform, run_ids: Iterable[int]) -> set[int]:
    ids = list(run_ids)
    if not ids:
        return set()
    with platform.transaction() as session:
        return set(
            session.scalars(
                select(_RUNS.c.id).where(_RUNS.c.id.in_(ids), _RUNS.c.is_cancel_requested)
            )
        )


def _kill_leftovers(runs: list[tuple[int, str | None]]) -> None:
    for run_id, worker_id in runs:
        if worker_id:
            killed = procs.kill_tagged(procs.run_tag(worker_id, run_id))
            if killed:
                log.warning("run %s: killed %d process(es) its dead worker left", run_id, killed)


def _ended(platform: Platform, run_ids: list[int]) -> None:
    """Runs just ended: start their jobs' children and queue notifications (scheduling)."""
    if run_ids:
        from civica.scheduling.events import runs_done

        runs_done(platform, run_ids)


def _fail(session: Session, run_ids: list[int], error: str) -> list[int]:
    if not run_ids:
        return []
    stamp = now()
    rows = session.execute(
        update(_RUNS)
        .where(_RUNS.c.id.in_(run_ids), _RUNS.c.state == "running")
        .values(state="failed", error=error, finished_at=stamp)
        .returning(_RUNS.c.id, _RUNS.c.api_key_id)
    ).all()
    keys = [r.api_key_id for r in rows if r.api_key_id is not None]
    if keys:
        session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id.in_(keys), ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=stamp)
        )
    if rows:
        session.execute(
            insert(RunLogRow),
            [
                {"run_id": r.id, "created_at": stamp, "level": "error", "message": error}
                for r in rows
            ],
        )
    return [r.id for r in rows]


def reap_stale(platform: Platform, timeout: float) -> int:
    """Fail running runs whose worker has not beaten for `timeout` seconds; returns how many."""
    cutoff = now() - timedelta(seconds=timeout)
    with platform.transaction() as session:
        stale = session.execute(
            select(_RUNS.c.id, _RUNS.c.worker_id, _RUNS.c.heartbeat_at).where(
                _RUNS.c.state == "running", _RUNS.c.heartbeat_at < cutoff
            )
        ).all()
        failed: list[int] = []
        for run_id, worker, beat in stale:
            when = beat.isoformat() if beat else "never"
            failed += _fail(
                session,
                [run_id],
                f"the worker running it ({worker}) stopped sending heartbeats (last at {when}); "
                "it was probably stopped or lost its connection. Run the job again.",
            )
    # A worker of this host that died leaves its runs' processes behind: stop them.
    _kill_leftovers([(r, w) for r, w, _ in stale if r in failed and _is_dead_here(w)])
    _ended(platform, failed)
    return len(failed)


def fail_orphans(platform: Platform) -> int:
    """On a worker's start: fail runs left running by dead workers of this host."""
    with platform.transaction() as session:
        rows = session.execute(
            select(_RUNS.c.id, _RUNS.c.worker_id).where(_RUNS.c.state == "running")
        ).all()
        dead = [r for r in rows if _is_dead_here(r.worker_id)]
        failed = _fail(session, [r.id for r in dead], RESTART_ERROR)
    _kill_leftovers([(r.id, r.worker_id) for r in dead if r.id in failed])
    _ended(platform, failed)
    return len(failed)


def finish(
    platform: Platform,
    run_id: int,
    state: str,
    error: str | None,
    max_memory_mb: int | None = None,
) -> bool:
    """Record the end of a run unless something else ended it first (cancel, reaper)."""
    assert state in DONE
    assert state != "failed" or error, "a failed run always carries an error"
    stamp = now()
    with platform.transaction() as session:
        done = session.execute(
            update(_RUNS)
            .where(_RUNS.c.id == run_id, _RUNS.c.state == "running")
            .values(state=state, error=error, finished_at=stamp, max_memory_usage=max_memory_mb)
            .returning(_RUNS.c.id)
        ).first()
        if done is None and max_memory_mb is not None:
            session.execute(
                update(_RUNS).where(_RUNS.c.id == run_id).values(max_memory_usage=max_memory_mb)
            )
        key_id = session.scalar(select(_RUNS.c.api_key_id).where(_RUNS.c.id == run_id))
        if key_id is not None:
            session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=stamp)
            )
    if done is not None:
        _ended(platform, [run_id])
    return done is not None

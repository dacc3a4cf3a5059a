"""What happens when runs end: children of a succeeded job start (chains), and the job's
notifications are queued. Called by the run queue right after it records the end of runs, in
its own transaction, so nothing here can fail or delay the run itself."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from civica.db.models import JobRow, RunLogRow, RunRow, UserRow
from civica.platform import Platform
from civica.services.actor import Actor
from civica.settings import Settings

log = logging.getLogger("civica.scheduling")


def owner_actor(session: Session, owner_id: int) -> Actor | None:
    """The owner as an actor, or None when the owner is gone or inactive."""
    from civica.services.users import actor_for

    owner = session.get(UserRow, owner_id)
    return actor_for(session, owner) if owner is not None and owner.active else None


def start_as_owner(
    session: Session,
    settings: Settings,
    job: JobRow,
    reason: str,
    *,
    actors: dict[int, Actor | None] | None = None,
    logs: list[tuple[RunRow, str]] | None = None,
) -> RunRow:
    """Queue a run of `job` as its owner (a scheduled, chained or mailed start).

    When the run cannot start (a required param has no value, the owner is gone) it is recorded
    as a failed run carrying the reason, so the failure is seen and notified like any other.
    `actors` caches owners across calls in one transaction, and `logs` collects the runs' first
    log lines for one bulk insert (the scheduler starts many runs at once, in
    `queue.batch_enqueue`, so their ids are known only when the batch ends).
    """
    from civica.execution.queue import now
    from civica.services.errors import ServiceError
    from civica.services.runs import start_run

    if actors is None:
        actors = {}
    if job.owner_id not in actors:
        actors[job.owner_id] = owner_actor(session, job.owner_id)
    actor = actors[job.owner_id]
    error: str
    if actor is None:
        error = f"its owner (user {job.owner_id}) is not an active user"
    else:
        try:
            run = start_run(session, actor, job)
        except ServiceError as exc:
            error = exc.description
        else:
            message = f"Run started: {reason}."
            if logs is None:
                session.add(RunLogRow(run_id=run.id, level="info", message=message))
            else:
                logs.append((run, message))
            return run
    stamp = now()
    message = f"{reason}, but the run could not start: {error}"
    run = RunRow(
        job_id=job.id,
        state="failed",
        error=message,
        triggered_by_id=job.owner_id if actor is not None else None,
        queued_at=stamp,
        finished_at=stamp,
    )
    session.add(run)
    session.flush()
    job.last_run_id = run.id
    session.add(RunLogRow(run_id=run.id, level="error", message=message))
    from civica.notify.runs import queue_run_end

    queue_run_end(session, settings, job, run)
    return run


def _children(session: Session, job: JobRow) -> list[JobRow]:
    return list(
        session.scalars(
            select(JobRow)
            .where(JobRow.parent_id == job.id, JobRow.archived.is_(False))
            .order_by(JobRow.id)
        )
    )


def runs_done(platform: Platform, run_ids: Iterable[int]) -> None:
    """React to runs that just ended (succeeded or failed); never raises."""
    for run_id in run_ids:
        try:
            _run_done(platform, run_id)
        except Exception:
            log.exception("run %s: starting its children or queueing notifications failed", run_id)


def _run_done(platform: Platform, run_id: int) -> None:
    from civica.notify.runs import queue_run_end

    with platform.transaction() as session:
        run = session.get(RunRow, run_id)
        job = session.get(JobRow, run.job_id) if run is not None else None
        if run is None or job is None:
            return
        if run.state == "succeeded":
            for child in _children(session, job):
                start_as_owner(
                    session,
                    platform.settings,
                    child,
                    f"its parent job {job.id} succeeded (run {run.id})",
                )
        queue_run_end(session, platform.settings, job, run)

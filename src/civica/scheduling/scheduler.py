"""The scheduler loop: one leader across processes starts due schedules, warns about stalled
runs and sends queued notifications.

Every `civica serve` (and `civica worker`) process runs a Scheduler; only the one holding the
leader lock (scheduling/leader.py) acts, the others wait to take over. A job is due when its
indexed `next_run_at` has passed: the leader starts one run as the job's owner (unless a run of
the job is still queued or running) and moves `next_run_at` to the first slot after *now*, so
after downtime each missed schedule runs once, not once per missed slot.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from civica.db.models import JobRow, RunLogRow, RunRow
from civica.execution.queue import LIVE, batch_enqueue
from civica.notify import deliveries
from civica.notify.runs import queue_stall, stall_minutes
from civica.platform import Platform
from civica.scheduling import clock as clocks
from civica.scheduling.events import start_as_owner
from civica.scheduling.leader import LeaderLock, leader_lock
from civica.services.actor import Actor
from civica.services.schedules import WAKE_KEY, next_slot

log = logging.getLogger("civica.scheduling")
BATCH = 50  # due jobs started per transaction (committed so workers see them soon)
STALL_GRACE = timedelta(minutes=1)  # the shortest stall warning is one minute

# --- Waking the schedulers and delivery loops of this process when their inputs change. ---

_schedulers: set[Scheduler] = set()
_lock = threading.Lock()


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    schedules = session.info.pop(WAKE_KEY, False)
    sends = session.info.pop(deliveries.WAKE_KEY, False)
    if schedules or sends:
        with _lock:
            for scheduler in _schedulers:
                if schedules:
                    scheduler.wake()
                if sends:
                    scheduler.wake_deliveries()


class Scheduler:
    def __init__(
        self,
        platform: Platform,
        *,
        clock: clocks.Clock | None = None,
        lock: LeaderLock | None = None,
    ) -> None:
        self.platform = platform
        self._clock = clock
        self.lock = lock or leader_lock(platform)
        self.is_leader = False
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._wake_sends = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def clock(self) -> clocks.Clock:
        return self._clock or clocks.current()

    def wake(self) -> None:
        self._wake.set()

    def wake_deliveries(self) -> None:
        self._wake_sends.set()

    # --- Life cycle ---

    def start(self) -> None:
        with _lock:
            _schedulers.add(self)
        for target, name in ((self._loop, "schedules"), (self._send_loop, "deliveries")):
            thread = threading.Thread(target=target, name=f"civica-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._wake_sends.set()
        for thread in self._threads:
            thread.join(timeout)
        with _lock:
            _schedulers.discard(self)
        self.is_leader = False
        self.lock.release()

    def _lead(self) -> bool:
        held = self.lock.try_acquire()
        if held and not self.is_leader:
            log.info("scheduler: this process is now the leader")
        self.is_leader = held
        return held

    def _loop(self) -> None:
        poll = self.platform.settings.scheduler_poll_seconds
        while not self._stopping.is_set():
            wait = poll
            try:
                if self._lead():
                    wait = min(poll, self.tick())
                    self._wake_sends.set()  # a new leader sends what is waiting
            except Exception:  # e.g. the database is briefly unavailable: keep going
                log.exception("scheduler: tick failed")
            self.clock.wait(self._wake, wait)
            self._wake.clear()

    def _send_loop(self) -> None:
        poll = self.platform.settings.scheduler_poll_seconds
        while not self._stopping.is_set():
            wait = poll
            try:
                if self.is_leader:
                    deliveries.deliver_due(self.platform)
                    upcoming = deliveries.next_due_at(self.platform)
                    if upcoming is not None:
                        wait = min(poll, (upcoming - deliveries.now()).total_seconds())
            except Exception:
                log.exception("scheduler: sending notifications failed")
            self._wake_sends.wait(max(0.01, wait))
            self._wake_sends.clear()

    # --- One pass (the leader's work; tests call it directly) ---

    def tick(self) -> float:
        """Start due schedules and queue stall warnings; returns seconds to the next due slot."""
        now = self.clock.now()
        self.start_due(now)
        self.warn_stalls(now)
        with self.platform.transaction() as session:
            upcoming = session.scalar(
                select(func.min(JobRow.next_run_at)).where(JobRow.archived.is_(False))
            )
        if upcoming is None:
            return self.platform.settings.scheduler_poll_seconds
        return max(0.0, (upcoming - self.clock.now()).total_seconds())

    def start_due(self, now: datetime) -> list[int]:
        """Start one run of each job whose next slot has come; returns the new runs' ids."""
        started: list[int] = []
        while True:
            with self.platform.transaction() as session:
                jobs = session.scalars(
                    select(JobRow)
                    .where(JobRow.next_run_at <= now, JobRow.archived.is_(False))
                    .order_by(JobRow.next_run_at, JobRow.id)
                    .limit(BATCH)
                ).all()
                last_ids = [j.last_run_id for j in jobs if j.last_run_id is not None]
                live = set(
                    session.scalars(
                        select(RunRow.job_id).where(
                            RunRow.id.in_(last_ids), RunRow.state.in_(tuple(LIVE))
                        )
                    )
                    if last_ids
                    else ()
                )
                actors: dict[int, Actor | None] = {}
                logs: list[tuple[RunRow, str]] = []
                runs: list[RunRow] = []
                with batch_enqueue(session):
                    for job in jobs:
                        runs += self._start_one(session, job, now, job.id in live, actors, logs)
                if logs:
                    lines = [{"run_id": r.id, "level": "info", "message": m} for r, m in logs]
                    session.execute(insert(RunLogRow), lines)
                started += [r.id for r in runs]
            if len(jobs) < BATCH:
                return started

    def _start_one(
        self,
        session: Session,
        job: JobRow,
        now: datetime,
        busy: bool,
        actors: dict[int, Actor | None],
        logs: list[tuple[RunRow, str]],
    ) -> list[RunRow]:
        slot = job.next_run_at
        following = next_slot(session, job, now)
        if busy:
            job.next_run_at = following
            log.info("job %s: skipping the %s slot, a run is still queued or running", job.id, slot)
            return []
        when = slot.isoformat() if slot is not None else "now"
        reason = f"scheduled for {when}"
        run = start_as_owner(session, self.platform.settings, job, reason, actors=actors, logs=logs)
        job.next_run_at = following
        return [run]

    def warn_stalls(self, now: datetime) -> int:
        """Queue a stall warning for each live run older than its job's stall_warning_minutes."""
        queued = 0
        with self.platform.transaction() as session:
            rows = session.execute(
                select(RunRow, JobRow)
                .join(JobRow, JobRow.id == RunRow.job_id)
                .where(RunRow.state.in_(tuple(LIVE)), RunRow.queued_at <= now - STALL_GRACE)
            ).all()
            for run, job in rows:
                minutes = stall_minutes(job)
                if minutes is None or now - run.queued_at < timedelta(minutes=minutes):
                    continue
                queued += queue_stall(session, self.platform.settings, job, run)
        return queued


def start_scheduler(platform: Platform) -> Scheduler | None:
    """The process's scheduler, when CIVICA_SCHEDULER is on (the default)."""
    if not platform.settings.scheduler:
        return None
    scheduler = Scheduler(platform)
    scheduler.start()
    return scheduler

"""Schedules: next_run_at on the wire, the scheduler starting due jobs (once after downtime,
never beside a live run), and one leader across schedulers. A ManualClock stands in for time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from civica.db.models import JobRow, RunLogRow, RunRow, UserRow
from civica.execution.worker import Worker
from civica.platform import Platform
from civica.scheduling import clock as clocks
from civica.scheduling.leader import FileLeaderLock, PostgresLeaderLock
from civica.scheduling.scheduler import Scheduler
from civica.settings import Settings
from tests.conftest import LiveServer
from tests.workers import fast_settings, wait_run, worker

__all__ = ["worker"]

EVERY_MINUTE = {"scheduled": True, "scheduledRunsPerHour": 60}


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str) -> Settings:
    return fast_settings(tmp_path, metadata_url, scheduler_poll_seconds=0.2)


@pytest.fixture
def clock() -> Iterator[clocks.ManualClock]:
    """Scheduling time under the test's control, starting now (runs keep real timestamps)."""
    manual = clocks.ManualClock(datetime.now(UTC).replace(second=0, microsecond=0))
    clocks.use(manual)
    yield manual
    clocks.use(None)


def script(c: httpx.Client, name: str, source: str = "pass", **extra: object) -> int:
    r = c.post("/scripts/python3", json={"name": name, "source": source, **extra})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def runs_of(platform: Platform, job_id: int) -> list[RunRow]:
    with platform.transaction() as session:
        return list(session.scalars(select(RunRow).where(RunRow.job_id == job_id)))


def test_next_run_at_follows_the_schedule_and_time_zone(
    live: LiveServer, admin: httpx.Client, clock: clocks.ManualClock
) -> None:
    clock.set(datetime(2026, 1, 5, 14, 10, tzinfo=UTC))  # a Monday, 08:10 in Chicago
    schedule = {"scheduled": True, "scheduledDays": [1], "scheduledHours": [9],
                "scheduledMinutes": [0]}  # fmt: skip
    jid = script(admin, "weekly", schedule=schedule, timeZone="America/Chicago")
    body = admin.get(f"/scripts/python3/{jid}").json()
    assert when(body["nextRunAt"]) == datetime(2026, 1, 5, 15, tzinfo=UTC)
    assert body["timeZone"] == "America/Chicago"
    assert body["schedule"]["scheduledDays"] == [1]
    # Later in the day: next Monday, same wall time.
    clock.set(datetime(2026, 1, 5, 16, tzinfo=UTC))
    r = admin.patch(f"/scripts/python3/{jid}", json={"name": "weekly!"})
    assert r.status_code == 200, r.text
    assert when(r.json()["nextRunAt"]) == datetime(2026, 1, 12, 15, tzinfo=UTC)
    # Unscheduled: no next run.
    r = admin.patch(f"/scripts/python3/{jid}", json={"schedule": {"scheduled": False}})
    assert r.status_code == 200 and r.json()["nextRunAt"] is None


def test_owner_time_zone_is_the_default(
    live: LiveServer, admin: httpx.Client, clock: clocks.ManualClock
) -> None:
    uid, key = live.new_user()
    with live.platform.transaction() as session:
        session.execute(update(UserRow).where(UserRow.id == uid).values(time_zone="Asia/Tokyo"))
    clock.set(datetime(2026, 6, 1, 0, 0, tzinfo=UTC))  # 09:00 in Tokyo
    with live.client(key) as c:
        jid = script(c, "tokyo", schedule={"scheduled": True, "scheduledHours": [12]})
        body = c.get(f"/scripts/python3/{jid}").json()
    assert body["timeZone"] == "Asia/Tokyo"
    assert when(body["nextRunAt"]) == datetime(2026, 6, 1, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ({"scheduled": True, "scheduledHours": [25]}, "scheduled_hours"),
        ({"scheduled": True, "scheduledDays": [9]}, "scheduled_days"),
        ({"scheduled": True, "scheduledRunsPerHour": 61}, "scheduled_runs_per_hour"),
        ({"scheduled": True, "scheduledMinutes": [5], "scheduledRunsPerHour": 2}, "not both"),
    ],
)
def test_bad_schedules_are_refused_clearly(
    live: LiveServer, admin: httpx.Client, schedule: dict[str, object], words: str
) -> None:
    r = admin.post("/scripts/python3", json={"name": "bad", "source": "", "schedule": schedule})
    assert r.status_code == 400
    assert words in r.json()["errorDescription"]
    r = admin.post(
        "/scripts/python3",
        json={"name": "bad", "source": "", "schedule": EVERY_MINUTE, "timeZone": "Nowhere/X"},
    )
    assert r.status_code == 400 and "time_zone" in r.json()["errorDescription"]


def test_missed_slots_run_once_after_downtime(
    live: LiveServer, admin: httpx.Client, clock: clocks.ManualClock
) -> None:
    jid = script(admin, "every minute", schedule=EVERY_MINUTE)
    other = script(admin, "not scheduled")
    scheduler = Scheduler(live.platform)  # not started: the test drives its ticks
    assert scheduler.start_due(clock.now()) == []
    clock.advance(minutes=10)  # the scheduler was down for ten slots
    started = scheduler.start_due(clock.now())
    assert len(started) == 1
    assert [r.id for r in runs_of(live.platform, jid)] == started
    assert runs_of(live.platform, other) == []
    body = admin.get(f"/scripts/python3/{jid}").json()
    assert when(body["nextRunAt"]) == clock.now() + timedelta(minutes=1)
    assert scheduler.start_due(clock.now()) == []  # nothing more is due
    with live.platform.transaction() as session:
        log = session.scalars(select(RunLogRow.message).where(RunLogRow.run_id == started[0]))
        assert any("scheduled for" in m for m in log)
    run = admin.get(f"/scripts/python3/{jid}/runs/{started[0]}").json()
    assert run["state"] == "queued"


def test_no_second_run_while_one_is_live(
    live: LiveServer, admin: httpx.Client, clock: clocks.ManualClock
) -> None:
    jid = script(admin, "slow", schedule=EVERY_MINUTE)
    scheduler = Scheduler(live.platform)
    clock.advance(minutes=1)
    assert len(scheduler.start_due(clock.now())) == 1  # queued: no worker takes it
    for _ in range(3):
        clock.advance(minutes=1)
        assert scheduler.start_due(clock.now()) == []
    assert len(runs_of(live.platform, jid)) == 1
    body = admin.get(f"/scripts/python3/{jid}").json()
    assert when(body["nextRunAt"]) == clock.now() + timedelta(minutes=1)
    # Once that run ends, the next slot starts a new one.
    rid = runs_of(live.platform, jid)[0].id
    assert admin.delete(f"/scripts/python3/{jid}/runs/{rid}").status_code == 202
    clock.advance(minutes=1)
    assert len(scheduler.start_due(clock.now())) == 1


def test_archived_and_unscheduled_jobs_do_not_run(
    live: LiveServer, admin: httpx.Client, clock: clocks.ManualClock
) -> None:
    archived = script(admin, "archived", schedule=EVERY_MINUTE)
    assert (
        admin.put(f"/scripts/python3/{archived}/archive", json={"status": True}).status_code == 200
    )
    off = script(admin, "off", schedule={"scheduled": False, "scheduledRunsPerHour": 60})
    clock.advance(minutes=5)
    assert Scheduler(live.platform).start_due(clock.now()) == []
    assert runs_of(live.platform, archived) == [] and runs_of(live.platform, off) == []


def test_scheduled_start_that_cannot_run_is_a_failed_run(
    live: LiveServer, admin: httpx.Client, clock: clocks.ManualClock
) -> None:
    params = [{"name": "WHO", "type": "string", "required": True}]
    jid = script(admin, "needs a value", params=params, schedule=EVERY_MINUTE)
    clock.advance(minutes=1)
    [rid] = Scheduler(live.platform).start_due(clock.now())
    run = admin.get(f"/scripts/python3/{jid}/runs/{rid}").json()
    assert run["state"] == "failed"
    assert "scheduled for" in run["error"] and "WHO" in run["error"]


def test_scheduler_loop_runs_the_job_with_a_worker(
    live: LiveServer, worker: Worker, admin: httpx.Client, clock: clocks.ManualClock
) -> None:
    jid = script(admin, "minutely", source="print('tick')", schedule=EVERY_MINUTE)
    scheduler = Scheduler(live.platform)
    scheduler.start()
    try:
        clock.advance(minutes=1)
        rid = _wait_for_run(live.platform, jid)
        run = wait_run(admin, f"/scripts/python3/{jid}/runs/{rid}")
        assert run["state"] == "succeeded", run
        assert scheduler.is_leader
    finally:
        scheduler.stop()
    assert len(runs_of(live.platform, jid)) == 1


def _wait_for_run(platform: Platform, job_id: int, timeout: float = 20) -> int:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = runs_of(platform, job_id)
        if runs:
            return runs[0].id
        time.sleep(0.05)
    raise AssertionError(f"no run of job {job_id} after {timeout}s")


def test_one_leader_across_schedulers(live: LiveServer) -> None:
    first, second = Scheduler(live.platform), Scheduler(live.platform)
    dialect = live.platform.engine.dialect.name
    expected = PostgresLeaderLock if dialect == "postgresql" else FileLeaderLock
    assert isinstance(first.lock, expected)
    try:
        assert first.lock.try_acquire()
        assert not second.lock.try_acquire()
        assert first.lock.try_acquire() and first.lock.still_held()  # re-entrant for its holder
        first.lock.release()
        assert second.lock.try_acquire()
        assert not first.lock.try_acquire()
    finally:
        first.lock.release()
        second.lock.release()


def test_started_schedulers_elect_one_leader(live: LiveServer) -> None:
    import time

    schedulers = [Scheduler(live.platform) for _ in range(3)]
    for s in schedulers:
        s.start()
    try:
        deadline = time.monotonic() + 10
        while sum(s.is_leader for s in schedulers) != 1:
            assert time.monotonic() < deadline, "no leader elected"
            time.sleep(0.05)
        leader = next(s for s in schedulers if s.is_leader)
        leader.stop()  # the others take over
        rest = [s for s in schedulers if s is not leader]
        deadline = time.monotonic() + 10
        while sum(s.is_leader for s in rest) != 1:
            assert time.monotonic() < deadline, "nobody took over"
            time.sleep(0.05)
    finally:
        for s in schedulers:
            s.stop()


def test_imports_keep_next_run_at(
    live: LiveServer, admin: httpx.Client, clock: clocks.ManualClock
) -> None:
    clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    body = {"name": "nightly copy", "syncType": "Dbsync", "isOutbound": True,
            "schedule": {"scheduled": True, "scheduledHours": [2], "scheduledMinutes": [15]},
            "timeZone": "Europe/Paris"}  # fmt: skip
    r = admin.post("/imports", json=body)
    assert r.status_code == 200, r.text
    assert when(r.json()["nextRunAt"]) == datetime(2026, 3, 3, 1, 15, tzinfo=UTC)
    with live.platform.transaction() as session:
        row = session.get(JobRow, r.json()["id"])
        assert row is not None and row.next_run_at == datetime(2026, 3, 3, 1, 15, tzinfo=UTC)


def test_scripts_list_filters_scheduled(
    live: LiveServer, admin: httpx.Client, clock: clocks.ManualClock
) -> None:
    on = script(admin, "on", schedule=EVERY_MINUTE)
    script(admin, "off")
    listed = admin.get("/scripts", params={"status": "scheduled"}).json()
    assert [s["id"] for s in listed] == [on]

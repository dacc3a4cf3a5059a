"""next_run_at: days of week and month, hours, minutes, runs per hour, time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from civica.scheduling.times import ScheduleError, next_run_at, parse_schedule, zone_named

CHICAGO = ZoneInfo("America/Chicago")
UTCZ = ZoneInfo("UTC")


def spec(**fields: object):  # type: ignore[no-untyped-def]
    return parse_schedule({"scheduled": True, **fields})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def series(s, start: datetime, zone: ZoneInfo, n: int) -> list[datetime]:  # type: ignore[no-untyped-def]
    out = []
    at = start
    for _ in range(n):
        at = next_run_at(s, at, zone)
        assert at is not None
        out.append(at)
    return out


def test_unscheduled_has_no_next_run() -> None:
    assert parse_schedule(None) is None
    assert parse_schedule({"scheduled": False, "scheduled_hours": [3]}) is None
    assert next_run_at(None, utc(2026, 1, 1), UTCZ) is None


def test_defaults_every_hour_on_the_hour() -> None:
    s = spec()
    assert series(s, utc(2026, 1, 1, 10, 15), UTCZ, 3) == [
        utc(2026, 1, 1, 11),
        utc(2026, 1, 1, 12),
        utc(2026, 1, 1, 13),
    ]


def test_strictly_after() -> None:
    s = spec(scheduled_hours=[9], scheduled_minutes=[30])
    assert next_run_at(s, utc(2026, 1, 1, 9, 30), UTCZ) == utc(2026, 1, 2, 9, 30)
    assert next_run_at(s, utc(2026, 1, 1, 9, 29, 59), UTCZ) == utc(2026, 1, 1, 9, 30)


def test_every_minute_with_runs_per_hour() -> None:
    s = spec(scheduled_runs_per_hour=60)
    assert next_run_at(s, utc(2026, 5, 5, 23, 59, 10), UTCZ) == utc(2026, 5, 6, 0, 0)
    assert series(s, utc(2026, 5, 5, 12, 0), UTCZ, 2) == [
        utc(2026, 5, 5, 12, 1),
        utc(2026, 5, 5, 12, 2),
    ]


def test_runs_per_hour_spreads_evenly() -> None:
    s = spec(scheduled_runs_per_hour=4, scheduled_hours=[6])
    assert series(s, utc(2026, 5, 5, 5), UTCZ, 5) == [
        utc(2026, 5, 5, 6, 0),
        utc(2026, 5, 5, 6, 15),
        utc(2026, 5, 5, 6, 30),
        utc(2026, 5, 5, 6, 45),
        utc(2026, 5, 6, 6, 0),
    ]


def test_days_of_week_start_at_sunday() -> None:
    # 2026-01-04 is a Sunday.
    s = spec(scheduled_days=[0, 3], scheduled_hours=[8], scheduled_minutes=[0])
    assert series(s, utc(2026, 1, 1), UTCZ, 3) == [
        utc(2026, 1, 4, 8),
        utc(2026, 1, 7, 8),
        utc(2026, 1, 11, 8),
    ]


def test_days_of_month_skip_short_months() -> None:
    s = spec(scheduled_days_of_month=[31], scheduled_hours=[0], scheduled_minutes=[0])
    assert series(s, utc(2026, 1, 31, 1), UTCZ, 2) == [utc(2026, 3, 31), utc(2026, 5, 31)]


def test_days_of_week_or_month() -> None:
    # Mondays or the 1st: 2026-02-01 is a Sunday, 2026-02-02 a Monday.
    s = spec(scheduled_days=[1], scheduled_days_of_month=[1], scheduled_hours=[12])
    assert series(s, utc(2026, 1, 31), UTCZ, 3) == [
        utc(2026, 2, 1, 12),
        utc(2026, 2, 2, 12),
        utc(2026, 2, 9, 12),
    ]


def test_local_time_zone() -> None:
    s = spec(scheduled_hours=[9], scheduled_minutes=[0])
    # 09:00 in Chicago is 15:00 UTC in winter (CST) and 14:00 UTC in summer (CDT).
    assert next_run_at(s, utc(2026, 1, 10), CHICAGO) == utc(2026, 1, 10, 15)
    assert next_run_at(s, utc(2026, 7, 10), CHICAGO) == utc(2026, 7, 10, 14)


def test_daily_slot_keeps_wall_time_across_spring_forward() -> None:
    # DST starts 2026-03-08 at 02:00 in Chicago.
    s = spec(scheduled_hours=[9], scheduled_minutes=[0])
    got = series(s, utc(2026, 3, 6, 16), CHICAGO, 3)
    assert [g.astimezone(CHICAGO).hour for g in got] == [9, 9, 9]
    assert got[1] - got[0] == timedelta(hours=23)  # the short day


def test_daily_slot_keeps_wall_time_across_fall_back() -> None:
    # DST ends 2026-11-01 at 02:00 in Chicago.
    s = spec(scheduled_hours=[9], scheduled_minutes=[0])
    got = series(s, utc(2026, 10, 31, 12), CHICAGO, 2)
    assert [g.astimezone(CHICAGO).hour for g in got] == [9, 9]
    assert got[1] - got[0] == timedelta(hours=25)  # the long day


def test_skipped_slot_runs_when_the_clock_jumps() -> None:
    s = spec(scheduled_hours=[2], scheduled_minutes=[30])
    # 02:30 does not exist on 2026-03-08 in Chicago: it runs at 03:30 CDT (08:30 UTC), once.
    got = series(s, utc(2026, 3, 7, 12), CHICAGO, 2)
    assert got[0] == utc(2026, 3, 8, 8, 30)
    assert got[0].astimezone(CHICAGO).hour == 3
    assert got[1] == utc(2026, 3, 9, 7, 30)  # back to 02:30 CDT the day after


def test_repeated_slot_runs_once_at_first_occurrence() -> None:
    s = spec(scheduled_hours=[1], scheduled_minutes=[30])
    # 01:30 happens twice on 2026-11-01 in Chicago: CDT (06:30 UTC) then CST (07:30 UTC).
    got = series(s, utc(2026, 11, 1, 0), CHICAGO, 2)
    assert got == [utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 7, 30)]


def test_every_hour_runs_every_real_hour_through_fall_back() -> None:
    s = spec(scheduled_minutes=[30])
    got = series(s, utc(2026, 11, 1, 5), CHICAGO, 5)
    assert got == [utc(2026, 11, 1, h, 30) for h in range(5, 10)]
    assert [g.astimezone(CHICAGO).hour for g in got] == [0, 1, 1, 2, 3]


def test_every_hour_skips_the_missing_hour_in_spring() -> None:
    s = spec(scheduled_minutes=[0])
    got = series(s, utc(2026, 3, 8, 6, 30), CHICAGO, 3)
    # 01:00 CST, then 03:00 CDT (02:00 does not exist; its slot is the same instant), 04:00.
    assert got == [utc(2026, 3, 8, 7), utc(2026, 3, 8, 8), utc(2026, 3, 8, 9)]


def test_southern_hemisphere_and_half_hour_zone() -> None:
    s = spec(scheduled_hours=[6], scheduled_minutes=[0])
    # Sydney leaves DST on 2026-04-05 (+11 → +10); Kolkata is +05:30 all year.
    syd = ZoneInfo("Australia/Sydney")
    got = series(s, utc(2026, 4, 3, 12), syd, 3)
    assert [g.astimezone(syd).hour for g in got] == [6, 6, 6]
    assert got[1] - got[0] == timedelta(hours=25)
    assert got[2] - got[1] == timedelta(hours=24)
    assert next_run_at(s, utc(2026, 1, 1), ZoneInfo("Asia/Kolkata")) == utc(2026, 1, 1, 0, 30)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scheduled_days": [7]}, "scheduled_days"),
        ({"scheduled_hours": [24]}, "scheduled_hours"),
        ({"scheduled_minutes": [-1]}, "scheduled_minutes"),
        ({"scheduled_days_of_month": [0]}, "scheduled_days_of_month"),
        ({"scheduled_runs_per_hour": 0}, "scheduled_runs_per_hour"),
        ({"scheduled_runs_per_hour": 2, "scheduled_minutes": [5]}, "not both"),
        ({"scheduled_hours": "9"}, "list"),
    ],
)
def test_bad_blocks_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule({"scheduled": True, **fields})


def test_zone_names() -> None:
    assert zone_named(None) == UTCZ
    assert zone_named("Europe/Paris") == ZoneInfo("Europe/Paris")
    with pytest.raises(ScheduleError, match="IANA"):
        zone_named("Mars/Olympus")


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_run_at(spec(), datetime(2026, 1, 1), UTCZ)

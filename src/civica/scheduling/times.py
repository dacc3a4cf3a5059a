"""When a schedule runs next: pure functions over the seed's schedule block, in a time zone.

A schedule names wall-clock slots in its time zone:

- days: `scheduled_days` (0 is Sunday) and `scheduled_days_of_month` (1-31); a day matches when
  it is in either list; with both lists empty every day matches.
- hours: `scheduled_hours` (0-23); empty means every hour.
- minutes: `scheduled_minutes` (0-59), or `scheduled_runs_per_hour` evenly spaced slots from :00;
  with neither, :00.

Daylight-saving changes: a slot that does not exist (the hour skipped in spring) runs when the
clock jumps past it (02:30 becomes 03:30); a slot that exists twice (the hour repeated in autumn)
runs once, at its first occurrence, except in "every hour" schedules, which run in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SEARCH_DAYS = 400  # every valid schedule has a slot within about two months


class ScheduleError(ValueError):
    """A schedule block that cannot be run; the message names the field and the fix."""


@dataclass(frozen=True)
class ScheduleSpec:
    days: frozenset[int]  # 0 is Sunday
    days_of_month: frozenset[int]
    hours: tuple[int, ...]
    minutes: tuple[int, ...]
    every_hour: bool

    def matches(self, day: date) -> bool:
        if not self.days and not self.days_of_month:
            return True
        weekday = (day.weekday() + 1) % 7  # Python counts from Monday, the seed from Sunday
        return weekday in self.days or day.day in self.days_of_month


def _ints(block: Mapping[str, Any], name: str, low: int, high: int) -> list[int]:
    raw = block.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise ScheduleError(f"schedule.{name} must be a list of integers from {low} to {high}")
    out: list[int] = []
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ScheduleError(
                f"schedule.{name} must hold integers from {low} to {high}; got {value!r}"
            )
        out.append(value)
    return sorted(set(out))


def parse_schedule(block: Mapping[str, Any] | None) -> ScheduleSpec | None:
    """The schedule a block describes, or None when it is not scheduled.

    Raises ScheduleError for values no schedule can have.
    """
    if not block:
        return None
    days = _ints(block, "scheduled_days", 0, 6)
    hours = _ints(block, "scheduled_hours", 0, 23)
    minutes = _ints(block, "scheduled_minutes", 0, 59)
    days_of_month = _ints(block, "scheduled_days_of_month", 1, 31)
    per_hour = block.get("scheduled_runs_per_hour")
    if per_hour is not None:
        if isinstance(per_hour, bool) or not isinstance(per_hour, int) or not 1 <= per_hour <= 60:
            raise ScheduleError(
                f"schedule.scheduled_runs_per_hour must be an integer from 1 to 60; got "
                f"{per_hour!r}"
            )
        if minutes:
            raise ScheduleError(
                "give schedule.scheduled_minutes or schedule.scheduled_runs_per_hour, not both"
            )
        minutes = [i * 60 // per_hour for i in range(per_hour)]
    if not block.get("scheduled"):
        return None
    return ScheduleSpec(
        days=frozenset(days),
        days_of_month=frozenset(days_of_month),
        hours=tuple(hours) if hours else tuple(range(24)),
        minutes=tuple(minutes) if minutes else (0,),
        every_hour=not hours,
    )


def zone_named(name: str | None) -> ZoneInfo:
    """The IANA zone `name` (UTC when empty); ScheduleError when there is no such zone."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"time_zone must be an IANA time zone such as America/Chicago; got {name!r}"
        ) from None


def _day_slots(spec: ScheduleSpec, day: date, zone: ZoneInfo, after: datetime) -> datetime | None:
    """The first slot of local date `day` strictly after `after` (UTC), if any."""
    folds = (0, 1) if spec.every_hour else (0,)
    # Wall times and instants agree in order except within a daylight-saving shift (an hour or
    # two), so slots more than 3 hours of wall time away from a candidate cannot beat it.
    floor = after.astimezone(zone).replace(tzinfo=None) - timedelta(hours=3)
    best: datetime | None = None
    best_wall = floor
    for hour in spec.hours:
        for minute in spec.minutes:
            wall = datetime(day.year, day.month, day.day, hour, minute)
            if wall < floor:
                continue
            if best is not None and wall > best_wall + timedelta(hours=3):
                return best
            for fold in folds:
                at = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                if at > after and (best is None or at < best):
                    best, best_wall = at, wall
    return best


def next_run_at(spec: ScheduleSpec | None, after: datetime, zone: ZoneInfo) -> datetime | None:
    """The first slot of `spec` strictly after `after` (aware), in UTC; None when unscheduled."""
    if spec is None:
        return None
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    after = after.astimezone(UTC)
    start = after.astimezone(zone).date() - timedelta(days=1)
    found: datetime | None = None
    for offset in range(SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if not spec.matches(day):
            continue
        at = _day_slots(spec, day, zone, after)
        if at is not None and (found is None or at < found):
            found = at
        if found is not None and day > found.astimezone(zone).date() + timedelta(days=1):
            return found
    return found

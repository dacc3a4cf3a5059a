"""Schedules of any runnable kind: validate a stored schedule block and keep `next_run_at`.

Every kind keeps its schedule the same way: the seed's `schedule` block in `row.config["schedule"]`
and an optional IANA `row.config["time_zone"]` (the owner's time zone when unset, else UTC). A
service that stores either calls `apply_schedule(session, row)` after setting `row.config`; it
checks the block (400 naming the field), normalises it and sets the indexed `row.next_run_at` the
scheduler reads. Nothing here depends on the kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from civica.db.models import JobRow, UserRow
from civica.scheduling import clock
from civica.scheduling.times import ScheduleError, next_run_at, parse_schedule, zone_named
from civica.services.errors import BadRequest

SCHEDULE_FIELDS = (
    "scheduled",
    "scheduled_days",
    "scheduled_hours",
    "scheduled_minutes",
    "scheduled_runs_per_hour",
    "scheduled_days_of_month",
)
WAKE_KEY = "civica_wake_scheduler"


def time_zone_of(session: Session, row: JobRow) -> str:
    """The zone a job's schedule is read in: its own, else its owner's, else UTC."""
    own = (row.config or {}).get("time_zone")
    if own:
        return str(own)
    owner = session.get(UserRow, row.owner_id) if row.owner_id is not None else None
    return (owner.time_zone if owner is not None else None) or "UTC"


def _zone(session: Session, row: JobRow) -> ZoneInfo:
    try:
        return zone_named(time_zone_of(session, row))
    except ScheduleError as exc:
        raise BadRequest(str(exc)) from None


def next_slot(session: Session, row: JobRow, after: datetime) -> datetime | None:
    """The job's first scheduled slot after `after` (None when not scheduled or archived)."""
    if row.archived:
        return None
    try:
        spec = parse_schedule((row.config or {}).get("schedule"))
    except ScheduleError:
        return None  # stored before validation existed: never due rather than failing a loop
    return next_run_at(spec, after, _zone(session, row)) if spec is not None else None


def _check_notifications(config: dict[str, Any]) -> None:
    from civica.notify.webhooks import check_url

    raw = config.get("notifications")
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise BadRequest('notifications must be an object such as {"urls": [...]}')
    block = {k: v for k, v in raw.items() if v is not None}
    for name in ("success_email_addresses", "failure_email_addresses"):
        for address in block.get(name) or []:
            text = str(address).strip()
            if "@" not in text or any(c in text for c in " \r\n,;<>"):
                raise BadRequest(
                    f"notifications.{name} must hold e-mail addresses such as ann@example.com; "
                    f"got {address!r}"
                )
    reply_to = block.get("success_email_reply_to")
    if reply_to and ("@" not in str(reply_to) or any(c in str(reply_to) for c in "\r\n")):
        raise BadRequest(
            f"notifications.success_email_reply_to must be an e-mail address; got {reply_to!r}"
        )
    for url in block.get("urls") or []:
        try:
            check_url(str(url))
        except ValueError as exc:
            raise BadRequest(f"notifications.urls: {exc}") from None
    minutes = block.get("stall_warning_minutes")
    if minutes is not None and (not isinstance(minutes, int) or minutes < 1):
        raise BadRequest(
            f"notifications.stall_warning_minutes must be a whole number of minutes, 1 or more; "
            f"got {minutes!r}"
        )
    config["notifications"] = block


def apply_schedule(session: Session, row: JobRow) -> None:
    """Check and normalise `row.config["schedule"]` (and `row.config["notifications"]`) and set
    `row.next_run_at` from the schedule.

    Call after storing a schedule block, a time zone or notifications (create, replace, update,
    put_schedules). Raises BadRequest naming the field when a block cannot be used.
    """
    config = dict(row.config or {})
    _check_notifications(config)
    raw = config.get("schedule")
    if raw is not None and not isinstance(raw, dict):
        raise BadRequest('schedule must be an object such as {"scheduled": true, ...}')
    block: dict[str, Any] = {k: v for k, v in (raw or {}).items() if v is not None}
    unknown = sorted(set(block) - set(SCHEDULE_FIELDS))
    if unknown:
        raise BadRequest(
            f"schedule has unknown fields {', '.join(unknown)}; it takes "
            f"{', '.join(SCHEDULE_FIELDS)}"
        )
    try:
        spec = parse_schedule(block)
    except ScheduleError as exc:
        raise BadRequest(str(exc)) from None
    zone = _zone(session, row)
    if raw is not None:
        config["schedule"] = block
    if config != row.config:
        row.config = config
    row.next_run_at = (
        next_run_at(spec, clock.current().now(), zone)
        if spec is not None and not row.archived
        else None
    )
    session.info[WAKE_KEY] = True  # an in-process scheduler re-reads its next due time

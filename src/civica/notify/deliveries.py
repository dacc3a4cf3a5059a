"""The deliveries table: queue a notification in the caller's transaction; send due ones later.

A failed attempt is retried after CIVICA_DELIVERY_RETRY_SECONDS, doubling each time (at most an
hour apart), up to CIVICA_DELIVERY_MAX_ATTEMPTS; every attempt's outcome stays on the row.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from civica.db.models import DeliveryRow
from civica.platform import Platform

log = logging.getLogger("civica.notify")
WAKE_KEY = "civica_wake_deliveries"
MAX_BACKOFF = timedelta(hours=1)
BATCH = 20


class PermanentError(Exception):
    """A delivery failure no retry can fix (e.g. no SMTP server configured, HTTP 404)."""


def now() -> datetime:
    return datetime.now(UTC)


def queue_delivery(
    session: Session,
    *,
    channel: str,
    event: str,
    target: str,
    payload: dict[str, Any],
    job_id: int | None = None,
    run_id: int | None = None,
    dedupe_key: str | None = None,
) -> DeliveryRow | None:
    """A pending delivery, or None when one with `dedupe_key` exists already."""
    if dedupe_key is not None and session.scalar(
        select(DeliveryRow.id).where(DeliveryRow.dedupe_key == dedupe_key)
    ):
        return None
    row = DeliveryRow(
        channel=channel,
        event=event,
        target=target,
        payload=payload,
        job_id=job_id,
        run_id=run_id,
        dedupe_key=dedupe_key,
        state="pending",
        attempts=0,
        next_attempt_at=now(),
        created_at=now(),
    )
    session.add(row)
    session.flush()
    session.info[WAKE_KEY] = True
    return row


def _send(platform: Platform, row: DeliveryRow) -> None:
    settings = platform.settings
    if row.channel == "email":
        from civica.notify.mail import compose, smtp_send

        smtp_send(settings, compose(settings, row.payload))
    elif row.channel == "webhook":
        from civica.notify.webhooks import post_webhook

        post_webhook(settings, row.target, dict(row.payload.get("body") or {}), row.event)
    else:
        raise PermanentError(f"unknown delivery channel {row.channel!r}")


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:2000]


def attempt(platform: Platform, row: DeliveryRow) -> bool:
    """Try one delivery and record the outcome; True when it was sent."""
    settings = platform.settings
    error: str | None = None
    permanent = False
    try:
        _send(platform, row)
    except PermanentError as exc:
        error, permanent = str(exc), True
    except Exception as exc:  # any failure of the far side is recorded and retried
        error = _describe(exc)
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": error}
    if error is None:
        values |= {"state": "sent", "sent_at": now()}
    elif permanent or attempts >= settings.delivery_max_attempts:
        values |= {"state": "failed"}
        log.warning("delivery %s (%s) failed for good: %s", row.id, row.channel, error)
    else:
        wait = timedelta(seconds=settings.delivery_retry_seconds * 2 ** (attempts - 1))
        values |= {"next_attempt_at": now() + min(wait, MAX_BACKOFF)}
        log.info("delivery %s (%s) failed, will retry: %s", row.id, row.channel, error)
    with platform.transaction() as session:
        session.execute(update(DeliveryRow).where(DeliveryRow.id == row.id).values(**values))
    return error is None


def due(platform: Platform, limit: int = BATCH) -> list[DeliveryRow]:
    with platform.transaction() as session:
        return list(
            session.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.state == "pending", DeliveryRow.next_attempt_at <= now())
                .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
                .limit(limit)
            )
        )


def next_due_at(platform: Platform) -> datetime | None:
    with platform.transaction() as session:
        return session.scalar(
            select(DeliveryRow.next_attempt_at)
            .where(DeliveryRow.state == "pending")
            .order_by(DeliveryRow.next_attempt_at)
            .limit(1)
        )


def deliver_due(platform: Platform) -> int:
    """Attempt every delivery that is due now; returns how many were sent."""
    sent = 0
    while True:
        batch = due(platform)
        for row in batch:
            sent += attempt(platform, row)
        if len(batch) < BATCH:
            return sent

"""The trigger-mail listener: a small SMTP server (aiosmtpd) that starts a run of a job when mail
reaches the job's trigger address (`POST /jobs/{id}/trigger_email`). Off by default; turn it on
with CIVICA_TRIGGER_SMTP=true and point a mail relay for CIVICA_TRIGGER_EMAIL_DOMAIN at it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from civica.db.models import JobRow
from civica.platform import Platform

log = logging.getLogger("civica.notify")


class TriggerHandler:
    """aiosmtpd handler: accept only known trigger addresses, start a run per message."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def _job_id(self, address: str) -> int | None:
        with self.platform.transaction() as session:
            return session.scalar(
                select(JobRow.id).where(
                    func.lower(JobRow.trigger_email) == address.strip().lower(),
                    JobRow.archived.is_(False),
                )
            )

    def _start(self, addresses: list[str], sender: str) -> list[int]:
        from civica.scheduling.events import start_as_owner

        started: list[int] = []
        for address in addresses:
            job_id = self._job_id(address)
            if job_id is None:
                continue
            with self.platform.transaction() as session:
                job = session.get(JobRow, job_id)
                if job is None:
                    continue
                reason = f"mail from {sender or 'an unknown sender'} reached its trigger address"
                started.append(start_as_owner(session, self.platform.settings, job, reason).id)
        return started

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if await asyncio.to_thread(self._job_id, address) is None:
            return "550 5.1.1 No job has this trigger address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            runs = await asyncio.to_thread(
                self._start, list(envelope.rcpt_tos), str(envelope.mail_from or "")
            )
        except Exception:
            log.exception("trigger mail: starting runs failed")
            return "451 4.3.0 Could not start the runs; try again later"
        return f"250 OK: started run(s) {', '.join(map(str, runs)) or 'none'}"


class TriggerListener:
    def __init__(self, platform: Platform, host: str | None = None, port: int | None = None):
        settings = platform.settings
        self.controller = Controller(
            TriggerHandler(platform),
            hostname=host or settings.trigger_smtp_host,
            port=port if port is not None else settings.trigger_smtp_port,
        )

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def start_trigger_listener(platform: Platform) -> TriggerListener | None:
    """The listener when CIVICA_TRIGGER_SMTP is on (off by default)."""
    if not platform.settings.trigger_smtp:
        return None
    listener = TriggerListener(platform)
    listener.start()
    return listener

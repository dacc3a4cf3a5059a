"""A daily report snapshot e-mail end to end: the scheduler starts the snapshot job at its slot,
a worker renders the report in real headless Chromium, and the PNG reaches a real local SMTP
server (aiosmtpd) as an attachment."""

from __future__ import annotations

import email
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from civica.db.models import ReportRow
from civica.execution.worker import Worker
from civica.notify import deliveries
from civica.scheduling import clock as clocks
from civica.scheduling.scheduler import Scheduler
from civica.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.integration.test_reports import CODE, decode_png
from tests.workers import fast_settings, wait_run, worker

__all__ = ["worker"]

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="headless Chromium is not installed (run `make system-deps`); snapshots need it",
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str, inbox: tuple[Inbox, int]) -> Settings:
    return fast_settings(
        tmp_path,
        metadata_url,
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_from="reports@civica.test",
        smtp_timeout_seconds=5,
    )


@pytest.fixture
def clock() -> Iterator[clocks.ManualClock]:
    manual = clocks.ManualClock(datetime.now(UTC).replace(second=0, microsecond=0))
    clocks.use(manual)
    yield manual
    clocks.use(None)


def test_daily_snapshot_email(
    live: LiveServer, worker: Worker, inbox: tuple[Inbox, int], clock: clocks.ManualClock
) -> None:
    _, key = live.new_user("daily")
    now = clock.now()
    with live.client(key) as c:
        rid = c.post("/reports", json={"name": "Daily green", "codeBody": CODE}).json()["id"]
        r = c.patch(
            f"/reports/{rid}/snapshots",
            json={
                "width": 640,
                "height": 700,
                "recipientEmailAddresses": "ana@example.com, ben@example.org",
                "emailSubject": "Your daily report",
                "emailTemplate": "Good morning: **today's** numbers.",
                "sendEmailOnCompletion": True,
                "schedule": {
                    "scheduled": True,
                    "scheduledDays": list(range(7)),
                    "scheduledHours": [now.hour],
                    "scheduledMinutes": [now.minute],
                },
            },
        )
        assert r.status_code == 200, r.text
        scheduler = Scheduler(live.platform)  # not started: the test drives it
        assert scheduler.start_due(clock.now()) == []  # today's slot is now, the next tomorrow
        clock.advance(hours=23)
        assert scheduler.start_due(clock.now()) == []
        clock.advance(hours=1)
        [run_id] = scheduler.start_due(clock.now())
        with live.platform.transaction() as session:
            row = session.get(ReportRow, rid)
            assert row is not None
            job_id = row.snapshot_job_id
        run = wait_run(c, f"/jobs/{job_id}/runs/{run_id}", timeout=90)
        assert run["state"] == "succeeded", c.get(f"/jobs/{job_id}/runs/{run_id}/logs").text
        assert c.get(f"/reports/{rid}/snapshots").json()[0]["state"] == "succeeded"
    deadline = time.monotonic() + 30
    while not inbox[0].messages:
        deliveries.deliver_due(live.platform)
        assert time.monotonic() < deadline, "no e-mail arrived"
        time.sleep(0.1)
    [message] = inbox[0].messages
    assert message["Subject"] == "Your daily report"
    assert {a.strip() for a in str(message["To"]).split(",")} == {
        "ana@example.com",
        "ben@example.org",
    }
    body = message.get_body(("plain",))
    assert body is not None and "today's" in body.get_content()
    [png] = [p for p in message.iter_attachments() if p.get_content_type() == "image/png"]
    width, height, pixels = decode_png(png.get_content())
    assert (width, height) == (640, 700)
    green = sum(1 for p in pixels if p[1] > 150 and p[0] < 60 and p[2] < 60)
    assert green > len(pixels) * 0.8

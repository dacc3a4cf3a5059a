"""Notifications: success and failure e-mail through a real local SMTP server (aiosmtpd),
webhook POSTs to a real HTTP receiver on loopback, retries with back-off, stall warnings, mail
with attachments, and trigger e-mails starting runs through the built-in SMTP listener."""

from __future__ import annotations

import email
import json
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from civica.db.models import DeliveryRow, RunRow
from civica.execution.worker import Worker
from civica.notify import deliveries
from civica.notify.listener import TriggerListener
from civica.notify.mail import Attachment, send_mail
from civica.scheduling import clock as clocks
from civica.scheduling.scheduler import Scheduler
from civica.settings import Settings
from tests.conftest import LiveServer, free_port
from tests.workers import fast_settings, wait_run, worker

__all__ = ["worker"]


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def wait(self, count: int, timeout: float = 20) -> list[EmailMessage]:
        return _until(lambda: self.messages if len(self.messages) >= count else None, timeout)


class Receiver:
    """An HTTP server on loopback recording POSTed JSON; answers `statuses` in turn, then 200."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(length)))
                outer.headers.append(dict(self.headers))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )  # a short poll: shutdown() waits for it
        self.thread.start()

    def ok_bodies(self, count: int, timeout: float = 20) -> list[dict[str, Any]]:
        return _until(lambda: self.bodies if len(self.bodies) >= count else None, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _until(probe: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got is not None:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing arrived within {timeout}s")
        time.sleep(0.05)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str, inbox: tuple[Inbox, int]) -> Settings:
    return fast_settings(
        tmp_path,
        metadata_url,
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_from="robot@civica.test",
        scheduler_poll_seconds=0.2,
        delivery_retry_seconds=0.1,
        delivery_max_attempts=3,
        smtp_timeout_seconds=5,
        public_url="https://civica.example",
    )


@pytest.fixture
def scheduler(live: LiveServer) -> Iterator[Scheduler]:
    s = Scheduler(live.platform)
    s.start()
    yield s
    s.stop()


def script(c: httpx.Client, name: str, source: str = "pass", **extra: object) -> int:
    r = c.post("/scripts/python3", json={"name": name, "source": source, **extra})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def run(c: httpx.Client, job_id: int) -> dict[str, Any]:
    r = c.post(f"/scripts/python3/{job_id}/runs")
    assert r.status_code == 202, r.text
    return wait_run(c, f"/scripts/python3/{job_id}/runs/{r.json()['id']}")


def parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return str(plain.get_content()), str(html.get_content())


def deliveries_of(live: LiveServer, run_id: int) -> list[DeliveryRow]:
    with live.platform.transaction() as session:
        return list(
            session.scalars(
                select(DeliveryRow).where(DeliveryRow.run_id == run_id).order_by(DeliveryRow.id)
            )
        )


def test_success_email_and_webhook(
    live: LiveServer,
    worker: Worker,
    scheduler: Scheduler,
    admin: httpx.Client,
    inbox: tuple[Inbox, int],
    receiver: Receiver,
) -> None:
    notifications = {
        "urls": [receiver.url],
        "successEmailSubject": "Nightly load done",
        "successEmailBody": "The **nightly** load finished.\n\n- rows: all",
        "successEmailAddresses": ["ann@example.com", "bob@example.com"],
        "successEmailFromName": "Data Team",
        "successEmailReplyTo": "team@example.com",
        "failureEmailAddresses": ["oncall@example.com"],
    }
    jid = script(admin, "nightly", notifications=notifications)
    got = run(admin, jid)
    assert got["state"] == "succeeded"
    [message] = inbox[0].wait(1)
    assert message["Subject"] == "Nightly load done"
    assert message["To"] == "ann@example.com, bob@example.com"
    assert message["From"] == "Data Team <robot@civica.test>"
    assert message["Reply-To"] == "team@example.com"
    plain, html = parts(message)
    assert "The **nightly** load finished." in plain
    assert "<strong>nightly</strong>" in html and "<li>rows: all</li>" in html
    assert f'href="https://civica.example/jobs/{jid}"' in html
    [body] = receiver.ok_bodies(1)
    assert body["event"] == "success"
    assert body["job"] == {"id": jid, "name": "nightly", "type": "JobTypes::PythonDocker"}
    assert body["run"]["id"] == got["id"] and body["run"]["state"] == "succeeded"
    assert body["run"]["finishedAt"]
    assert receiver.headers[0]["X-Civica-Event"] == "success"
    _until(lambda: all(d.state == "sent" for d in deliveries_of(live, got["id"])) or None, 10)
    assert len(inbox[0].messages) == 1  # no failure mail for a success


def test_failure_email_and_webhook(
    live: LiveServer,
    worker: Worker,
    scheduler: Scheduler,
    admin: httpx.Client,
    inbox: tuple[Inbox, int],
    receiver: Receiver,
) -> None:
    notifications = {
        "urls": [receiver.url],
        "successEmailAddresses": ["ann@example.com"],
        "failureEmailAddresses": ["oncall@example.com"],
    }
    jid = script(admin, "fragile", "raise RuntimeError('disk on fire')",
                 notifications=notifications)  # fmt: skip
    got = run(admin, jid)
    assert got["state"] == "failed"
    [message] = inbox[0].wait(1)
    assert inbox[0].envelopes[0][1] == ["oncall@example.com"]
    assert message["Subject"] == f"fragile: run {got['id']} failed"
    plain, html = parts(message)
    assert "disk on fire" in plain and "disk on fire" in html
    [body] = receiver.ok_bodies(1)
    assert body["event"] == "failure" and body["run"]["state"] == "failed"
    assert body["run"]["error"]


def test_switches_turn_emails_off(
    live: LiveServer,
    worker: Worker,
    scheduler: Scheduler,
    admin: httpx.Client,
    inbox: tuple[Inbox, int],
    receiver: Receiver,
) -> None:
    notifications = {"urls": [receiver.url], "failureEmailAddresses": ["oncall@example.com"],
                     "failureOn": False}  # fmt: skip
    jid = script(admin, "quiet", "raise SystemExit(1)", notifications=notifications)
    got = run(admin, jid)
    receiver.ok_bodies(1)  # the webhook still goes
    _until(lambda: all(d.state == "sent" for d in deliveries_of(live, got["id"])) or None, 10)
    assert [d.channel for d in deliveries_of(live, got["id"])] == ["webhook"]
    assert inbox[0].messages == []


def test_broken_smtp_and_webhook_never_fail_the_run(
    live: LiveServer,
    worker: Worker,
    scheduler: Scheduler,
    admin: httpx.Client,
    receiver: Receiver,
) -> None:
    live.platform.settings.smtp_port = free_port()  # nothing listens there
    receiver.statuses = [500, 503]  # the webhook fails twice, then works
    notifications = {"urls": [receiver.url], "successEmailAddresses": ["ann@example.com"]}
    jid = script(admin, "resilient", notifications=notifications)
    got = run(admin, jid)
    assert got["state"] == "succeeded" and got["error"] is None
    receiver.ok_bodies(3)

    def settled() -> list[DeliveryRow] | None:
        rows = deliveries_of(live, got["id"])
        return rows if rows and all(d.state != "pending" for d in rows) else None

    rows = {d.channel: d for d in _until(settled, 20)}
    assert rows["webhook"].state == "sent" and rows["webhook"].attempts == 3
    assert rows["email"].state == "failed" and rows["email"].attempts == 3
    assert rows["email"].last_error and "refused" in rows["email"].last_error.lower()
    assert admin.get(f"/scripts/python3/{jid}/runs/{got['id']}").json()["state"] == "succeeded"


def test_webhook_client_errors_are_not_retried(
    live: LiveServer, admin: httpx.Client, receiver: Receiver
) -> None:
    receiver.statuses = [404]
    with live.platform.transaction() as session:
        deliveries.queue_delivery(
            session, channel="webhook", event="success", target=receiver.url,
            payload={"body": {"hello": "world"}},
        )  # fmt: skip
    assert deliveries.deliver_due(live.platform) == 0
    with live.platform.transaction() as session:
        [row] = session.scalars(select(DeliveryRow)).all()
        assert row.state == "failed" and row.attempts == 1 and "404" in (row.last_error or "")


def test_stall_warning_is_sent_once(
    live: LiveServer, admin: httpx.Client, inbox: tuple[Inbox, int]
) -> None:
    manual = clocks.ManualClock(datetime.now(UTC))
    clocks.use(manual)
    try:
        notifications = {"stallWarningMinutes": 5, "failureEmailAddresses": ["oncall@example.com"]}
        jid = script(admin, "stuck", notifications=notifications)
        assert admin.post(f"/scripts/python3/{jid}/runs").status_code == 202  # no worker: stays
        scheduler = Scheduler(live.platform)
        assert scheduler.warn_stalls(manual.advance(minutes=4)) == 0
        assert scheduler.warn_stalls(manual.advance(minutes=2)) == 1
        assert scheduler.warn_stalls(manual.advance(minutes=10)) == 0  # once per run
        deliveries.deliver_due(live.platform)
        [message] = inbox[0].wait(1)
        assert "taking longer than 5 minutes" in message["Subject"]
        assert "stuck" in parts(message)[0]
    finally:
        clocks.use(None)


def test_send_mail_with_attachments(live: LiveServer, inbox: tuple[Inbox, int]) -> None:
    with live.platform.transaction() as session:
        row = send_mail(
            session,
            to=["ann@example.com"],
            subject="Your report",
            markdown="# Weekly report\n\nSee the attachment.",
            attachments=[
                Attachment("report.html", b"<h1>hi</h1>", "text/html"),
                Attachment("data.bin", bytes(range(256))),
            ],
            event="report",
        )
        assert row is not None
    assert deliveries.deliver_due(live.platform) == 1
    [message] = inbox[0].wait(1)
    assert message["Subject"] == "Your report"
    files = {a.get_filename(): a.get_content() for a in message.iter_attachments()}
    assert files["report.html"].strip() == "<h1>hi</h1>"
    assert files["data.bin"] == bytes(range(256))
    assert "<h1>Weekly report</h1>" in parts(message)[1]


def test_bad_notification_blocks_are_refused(live: LiveServer, admin: httpx.Client) -> None:
    for block, words in (
        ({"successEmailAddresses": ["not-an-address"]}, "success_email_addresses"),
        ({"urls": ["ftp://example.com/x"]}, "http"),
        ({"stallWarningMinutes": 0}, "stall_warning_minutes"),
    ):
        r = admin.post("/scripts/python3", json={"name": "x", "source": "", "notifications": block})
        assert r.status_code == 400, r.text
        assert words in r.json()["errorDescription"]


def test_trigger_email_starts_a_run(live: LiveServer, worker: Worker, admin: httpx.Client) -> None:
    jid = script(admin, "on mail", "print('mailed')")
    address = admin.post(f"/jobs/{jid}/trigger_email").json()["triggerEmail"]
    port = free_port()
    listener = TriggerListener(live.platform, host="127.0.0.1", port=port)
    listener.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.sendmail("ann@example.com", ["nobody@civica.invalid"], "Subject: x\r\n\r\nx")
            smtp.sendmail("ann@example.com", [address.upper()], "Subject: go\r\n\r\nrun it")
    finally:
        listener.stop()

    def first_run() -> int | None:
        with live.platform.transaction() as session:
            return session.scalar(select(RunRow.id).where(RunRow.job_id == jid))

    rid = _until(first_run, 10)
    assert wait_run(admin, f"/scripts/python3/{jid}/runs/{rid}")["state"] == "succeeded"

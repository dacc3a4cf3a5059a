"""E-mail: Markdown bodies rendered to HTML (with a plain-text part), attachments, SMTP sending.

`send_mail` queues a message in the caller's transaction; the delivery loop sends it.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from markdown_it import MarkdownIt
from sqlalchemy.orm import Session

from civica.db.models import DeliveryRow
from civica.notify.deliveries import PermanentError, queue_delivery
from civica.settings import Settings

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


def render_markdown(text: str) -> str:
    """Markdown to an HTML fragment (raw HTML in the source is escaped, not passed through)."""
    return str(_MD.render(text))


def _addresses(to: Sequence[str]) -> list[str]:
    out = [a.strip() for a in to if a and a.strip()]
    for address in out:
        if "@" not in address or any(c in address for c in "\r\n,;<>"):
            raise ValueError(f"{address!r} is not an e-mail address")
    return out


def send_mail(
    session: Session,
    *,
    to: Sequence[str],
    subject: str,
    markdown: str,
    attachments: Sequence[Attachment] = (),
    from_name: str | None = None,
    reply_to: str | None = None,
    event: str = "mail",
    job_id: int | None = None,
    run_id: int | None = None,
    dedupe_key: str | None = None,
) -> DeliveryRow | None:
    """Queue an e-mail (Markdown body, optional attachments) to send after the caller commits.

    Returns the delivery row, or None when `to` is empty or `dedupe_key` was already queued.
    Sending is retried with back-off; it never raises into the caller's request or run.
    """
    recipients = _addresses(to)
    if not recipients:
        return None
    payload: dict[str, Any] = {
        "to": recipients,
        "subject": subject.replace("\r", " ").replace("\n", " ").strip(),
        "markdown": markdown,
        "from_name": from_name,
        "reply_to": reply_to,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "data": base64.b64encode(a.content).decode("ascii"),
            }
            for a in attachments
        ],
    }
    return queue_delivery(
        session,
        channel="email",
        event=event,
        target=", ".join(recipients),
        payload=payload,
        job_id=job_id,
        run_id=run_id,
        dedupe_key=dedupe_key,
    )


def compose(settings: Settings, payload: dict[str, Any]) -> EmailMessage:
    """The MIME message a queued e-mail payload describes."""
    message = EmailMessage()
    message["Subject"] = payload.get("subject") or "(no subject)"
    message["From"] = formataddr((payload.get("from_name") or "civica", settings.smtp_from))
    message["To"] = ", ".join(payload["to"])
    if payload.get("reply_to"):
        message["Reply-To"] = payload["reply_to"]
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    text = str(payload.get("markdown") or "")
    message.set_content(text)
    message.add_alternative(
        f"<!doctype html><html><body>{render_markdown(text)}</body></html>", subtype="html"
    )
    for item in payload.get("attachments") or []:
        maintype, _, subtype = str(item.get("content_type") or "").partition("/")
        message.add_attachment(
            base64.b64decode(item["data"]),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=item["filename"],
        )
    return message


def smtp_send(settings: Settings, message: EmailMessage) -> None:
    """Send one message through the configured SMTP server (raises on any failure)."""
    if not settings.smtp_host:
        raise PermanentError("no SMTP server is configured: set CIVICA_SMTP_HOST (and _PORT)")
    timeout = settings.smtp_timeout_seconds
    security = settings.smtp_security.lower()
    if security not in ("none", "starttls", "ssl"):
        raise PermanentError(
            f"CIVICA_SMTP_SECURITY must be none, starttls or ssl; got {settings.smtp_security!r}"
        )
    client: smtplib.SMTP
    if security == "ssl":
        client = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with client:
        if security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password or "")
        client.send_message(message)

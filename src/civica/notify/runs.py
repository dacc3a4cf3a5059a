"""What a job's `notifications` block asks for when one of its runs ends or stalls."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civica.db.models import JobRow, RunLogRow, RunRow
from civica.notify.deliveries import queue_delivery
from civica.notify.mail import send_mail
from civica.settings import Settings

LOG_TAIL = 20  # log lines a failure e-mail quotes


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_json(job: JobRow, run: RunRow, event: str) -> dict[str, Any]:
    """The body webhooks receive: the run as the API shows it, with its job."""
    return {
        "event": event,
        "job": {"id": job.id, "name": job.name, "type": job.type},
        "run": {
            "id": run.id,
            "jobId": job.id,
            "state": run.state,
            "createdAt": _iso(run.queued_at),
            "startedAt": _iso(run.started_at),
            "finishedAt": _iso(run.finished_at),
            "error": run.error,
        },
    }


def _link(settings: Settings, job: JobRow) -> str:
    if not settings.public_url:
        return ""
    return f"\n\n[Open job {job.id}]({settings.public_url.rstrip('/')}/jobs/{job.id})"


def _log_tail(session: Session, run_id: int, lines: int = LOG_TAIL) -> str:
    rows = session.scalars(
        select(RunLogRow.message)
        .where(RunLogRow.run_id == run_id)
        .order_by(RunLogRow.id.desc())
        .limit(lines)
    ).all()
    return "\n".join(reversed(rows)).replace("```", "'''")


def _on(block: dict[str, Any], name: str) -> bool:
    return block.get(name) is not False  # unset means on


def queue_run_end(session: Session, settings: Settings, job: JobRow, run: RunRow) -> int:
    """Queue the e-mails and webhooks for a run that succeeded or failed; returns how many."""
    if run.state not in ("succeeded", "failed"):
        return 0
    block = dict((job.config or {}).get("notifications") or {})
    if not block:
        return 0
    event = "success" if run.state == "succeeded" else "failure"
    queued = 0
    for index, url in enumerate(block.get("urls") or []):
        queued += (
            queue_delivery(
                session,
                channel="webhook",
                event=event,
                target=str(url),
                payload={"body": run_json(job, run, event)},
                job_id=job.id,
                run_id=run.id,
                dedupe_key=f"run:{run.id}:{event}:webhook:{index}",
            )
            is not None
        )
    if event == "success" and _on(block, "success_on"):
        addresses = list(block.get("success_email_addresses") or [])
        subject = block.get("success_email_subject") or f"{job.name}: run {run.id} succeeded"
        body = block.get("success_email_body") or (
            f"**{job.name}** (job {job.id}) finished run {run.id} successfully."
        )
        reply_to = block.get("success_email_reply_to")
    elif event == "failure" and _on(block, "failure_on"):
        addresses = list(block.get("failure_email_addresses") or [])
        subject = f"{job.name}: run {run.id} failed"
        error = (run.error or "no error message").replace("```", "'''")
        body = f"**{job.name}** (job {job.id}) run {run.id} failed:\n\n```\n{error}\n```"
        tail = _log_tail(session, run.id)
        if tail:
            body += f"\n\nThe end of its log:\n\n```\n{tail}\n```"
        reply_to = None
    else:
        return queued
    queued += (
        send_mail(
            session,
            to=addresses,
            subject=str(subject),
            markdown=str(body) + _link(settings, job),
            from_name=block.get("success_email_from_name"),
            reply_to=reply_to,
            event=event,
            job_id=job.id,
            run_id=run.id,
            dedupe_key=f"run:{run.id}:{event}:email",
        )
        is not None
    )
    return queued


def stall_minutes(job: JobRow) -> int | None:
    minutes = ((job.config or {}).get("notifications") or {}).get("stall_warning_minutes")
    return int(minutes) if isinstance(minutes, int) and minutes > 0 else None


def queue_stall(session: Session, settings: Settings, job: JobRow, run: RunRow) -> bool:
    """Queue the one stall warning of a run that is taking longer than the job allows."""
    block = dict((job.config or {}).get("notifications") or {})
    addresses = list(block.get("failure_email_addresses") or []) or list(
        block.get("success_email_addresses") or []
    )
    minutes = stall_minutes(job)
    body = (
        f"**{job.name}** (job {job.id}) run {run.id} has been {run.state} for more than "
        f"{minutes} minutes (since {_iso(run.queued_at)})."
    )
    return (
        send_mail(
            session,
            to=addresses,
            subject=f"{job.name}: run {run.id} is taking longer than {minutes} minutes",
            markdown=body + _link(settings, job),
            event="stall",
            job_id=job.id,
            run_id=run.id,
            dedupe_key=f"run:{run.id}:stall:email",
        )
        is not None
    )

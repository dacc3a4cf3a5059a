"""Runs of a report's snapshot job: render the report's page in headless Chromium at the
requested size, keep the PNG as a File output of the run, and e-mail it when asked.

Runs go through the ordinary queue and workers (kind `report_snapshot`, an in-process runtime in
civica.execution.runtimes), so the scheduler starts scheduled snapshots like any other job.
Chromium opens the report the way a reader does: a signed content URL for the report's owner,
served by the API at CIVICA_PUBLIC_URL, so the page runs sandboxed with its own scripts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from civica.db.models import JobRow, ReportRow, RunLogRow, RunOutputRow, RunRow
from civica.reports.content import CODE, content_url
from civica.services.errors import ServiceError

if TYPE_CHECKING:
    from civica.execution.runner import Runner

log = logging.getLogger("civica.reports")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# How long scripts on the page may run (Chromium's virtual time) before the screenshot.
SCRIPT_BUDGET_MS = 5000
RENDER_TIMEOUT = 120.0


class SnapshotError(Exception):
    """The snapshot cannot be taken; the message says why and what would fix it."""


def find_browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise SnapshotError(
        "headless Chromium is not installed on this worker (no chromium on PATH); install it "
        "(Debian: apt-get install chromium, or make system-deps) to take report snapshots"
    )


def chromium_command(browser: str, url: str, out: Path, width: int, height: int) -> list[str]:
    argv = [
        browser,
        "--headless",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        f"--user-data-dir={out.parent / 'chromium-profile'}",
        f"--window-size={width},{height}",
        f"--virtual-time-budget={SCRIPT_BUDGET_MS}",
        f"--screenshot={out}",
        url,
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to start its sandbox as root; the page is sandboxed by CSP anyway.
        argv.insert(1, "--no-sandbox")
    return argv


def render(
    url: str,
    out: Path,
    width: int,
    height: int,
    *,
    cancelled: object = None,
    timeout: float = RENDER_TIMEOUT,
) -> None:
    """Screenshot `url` into the PNG `out`; SnapshotError on failure. `cancelled`, when given, is
    a threading.Event that stops the browser."""
    browser = find_browser()
    out.parent.mkdir(parents=True, exist_ok=True)
    home = out.parent / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    proc = subprocess.Popen(
        chromium_command(browser, url, out, width, height),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            if cancelled is not None and getattr(cancelled, "is_set")():  # noqa: B009
                raise SnapshotError("cancelled")
            if time.monotonic() > deadline:
                raise SnapshotError(
                    f"Chromium did not finish rendering the report within {timeout:g} seconds"
                )
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # helpers it left behind
    stderr = (proc.stderr.read() if proc.stderr else b"").decode("utf-8", "replace")
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        last = [line for line in stderr.splitlines() if line.strip()][-1:] or ["no output"]
        raise SnapshotError(
            f"Chromium could not render the report (exit code {proc.returncode}): {last[0]}"
        )


@dataclass
class Plan:
    job_id: int
    report_id: int
    report_name: str
    owner_id: int
    url: str
    base: str
    width: int
    height: int
    recipients: list[str]
    send_email: bool
    subject: str
    template: str | None


def _plan(runner: Runner) -> Plan | None:
    from civica.execution.runner import api_url
    from civica.services.reports import (
        DEFAULT_HEIGHT,
        DEFAULT_WIDTH,
        content_target,
        recipients,
    )

    platform = runner.platform
    with platform.transaction() as session:
        run = session.get(RunRow, runner.run_id)
        if run is None or run.state != "running" or run.worker_id != runner.worker_id:
            return None
        job = session.get(JobRow, run.job_id)
        if job is None:
            raise SnapshotError("the snapshot job no longer exists")
        config = dict(job.config or {})
        report = session.get(ReportRow, int(config.get("report_id") or 0))
        if report is None:
            raise SnapshotError(f"report {config.get('report_id')} of this snapshot is gone")
        if report.archived:
            raise SnapshotError(
                f"report {report.id} is archived; unarchive it, or turn its snapshot schedule "
                f"off with PATCH /reports/{report.id}/snapshots"
            )
        try:  # Chromium would photograph an error page: check there is something to show
            content_target(session, platform, CODE, report.id, report.owner_id)
        except ServiceError as exc:
            raise SnapshotError(exc.description) from None
        base = api_url(platform)
        if base is None:
            raise SnapshotError(
                "the worker does not know the API's address to open the report at: set "
                "CIVICA_PUBLIC_URL (e.g. http://127.0.0.1:8000)"
            )
        try:
            to = recipients(config.get("recipient_email_addresses"))
        except ServiceError as exc:
            raise SnapshotError(exc.description) from None
        return Plan(
            job_id=job.id,
            report_id=report.id,
            report_name=report.name,
            owner_id=report.owner_id,
            url=content_url(platform, base, CODE, report.id, report.owner_id),
            base=base,
            width=int(config.get("width") or DEFAULT_WIDTH),
            height=int(config.get("height") or DEFAULT_HEIGHT),
            recipients=to,
            send_email=bool(config.get("send_email_on_completion")),
            subject=str(config.get("email_subject") or f"Snapshot of report {report.name}"),
            template=config.get("email_template"),
        )


def execute_snapshot_run(runner: Runner, workdir: Path) -> str:
    """The whole run: plan, render, store, e-mail; returns the final state."""
    try:
        plan = _plan(runner)
    except SnapshotError as exc:
        return runner._end("failed", str(exc), None)
    if plan is None:
        return ""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    name = f"report_{plan.report_id}_snapshot_run_{runner.run_id}.png"
    out = workdir / name
    runner.log(
        f"Rendering report {plan.report_id} at {plan.width}x{plan.height} in headless Chromium.",
    )
    timeout = min(RENDER_TIMEOUT, runner.platform.settings.max_run_seconds or RENDER_TIMEOUT)
    try:
        render(
            plan.url, out, plan.width, plan.height, cancelled=runner.control.cancel, timeout=timeout
        )
    except SnapshotError as exc:
        if runner.control.cancel.is_set():
            state, error = runner._stopped_outcome()
            return runner._end(state, error, None)
        return runner._end("failed", str(exc), None)
    except OSError as exc:
        return runner._end("failed", f"Chromium could not start: {exc}", None)
    _store(runner, plan, out, name)
    return runner._end("succeeded", None, None)


def _store(runner: Runner, plan: Plan, out: Path, name: str) -> None:
    from civica.services.sql import file_row, store_file

    platform = runner.platform
    png = out.read_bytes() if plan.send_email and plan.recipients else b""
    key, size = store_file(platform, plan.owner_id, out, name, plan.base)
    with platform.transaction() as session:
        row = file_row(session, platform, plan.owner_id, key, size, name)
        session.add(
            RunOutputRow(run_id=runner.run_id, object_type="File", object_id=row.id, name=name)
        )
        session.add(
            RunLogRow(
                run_id=runner.run_id,
                level="info",
                message=f"Saved the snapshot as file {row.id} ({name}, {size} bytes).",
            )
        )
        if png:
            _email(session, runner, plan, name, png)


def _email(session: Session, runner: Runner, plan: Plan, name: str, png: bytes) -> None:
    """Queue the snapshot e-mail in the run's own transaction (civica.notify sends it)."""
    from civica.notify.mail import Attachment, send_mail

    body = plan.template or (
        f"A snapshot of report **{plan.report_name}** (report {plan.report_id}) is attached."
    )
    send_mail(
        session,
        to=plan.recipients,
        subject=plan.subject,
        markdown=body,
        attachments=[Attachment(filename=name, content=png, content_type="image/png")],
        event="report_snapshot",
        job_id=plan.job_id,
        run_id=runner.run_id,
        dedupe_key=f"run:{runner.run_id}:report_snapshot:email",
    )
    session.add(
        RunLogRow(
            run_id=runner.run_id,
            level="info",
            message=f"E-mailing the snapshot to {len(plan.recipients)} recipient(s).",
        )
    )

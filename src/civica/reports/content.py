"""What a report shows, and the signed URLs civica serves it at (`/report-content/...`).

A report shows, in this order of precedence: its own `code_body`; else the code of the report
template it names (`template_id`); else the newest HTML output file of its job's latest
successful run (`script_id`; a non-HTML file when the run left no HTML).

Content URLs carry a token signed like the files' transfer URLs (HMAC over the claims, a key
derived from the platform's secret, but a different derivation so neither kind of token passes
for the other): the report (`k`), the viewer (`u`) whose read permission is checked again when the
URL is opened, and an expiry (`e`). They are not API operations: no API key is sent, the token is
the permission.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from civica.db.models import FileRow, JobRow, ReportRow, RunOutputRow, RunRow
from civica.storage.signing import TokenError, UrlSigner

if TYPE_CHECKING:
    from civica.platform import Platform

CONTENT_PREFIX = "/report-content"
# How long a content URL works; GET /reports/{id} gives a fresh one each time.
CONTENT_URL_SECONDS = 3600
CODE, DATA, THUMBNAIL = "code", "data", "thumbnail"
ACTIONS = (CODE, DATA, THUMBNAIL)
HTML_SUFFIXES = (".html", ".htm")
_SIGNER = "report_content_signer"
# The report's page runs in an opaque origin: its scripts run, but it cannot read civica's
# cookies or storage, nor call civica with the viewer's credentials.
SANDBOX = (
    "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox allow-forms allow-modals "
    "allow-downloads"
)
CONTENT_HEADERS = {
    "content-security-policy": SANDBOX,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "private, no-store",
    "cross-origin-resource-policy": "same-origin",
}


def content_signer(platform: Platform) -> UrlSigner:
    """Signs and checks content URLs, with a key derived from the newest platform secret."""
    signer = platform.extras.get(_SIGNER)
    if signer is None:
        settings = platform.settings
        material = settings.secret_key or (settings.data_dir / "secret.key").read_text()
        first = material.split(",")[0].strip().encode()
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"civica report content v1"
        )
        signer = platform.extras[_SIGNER] = UrlSigner(hkdf.derive(first))
    assert isinstance(signer, UrlSigner)
    return signer


def content_url(
    platform: Platform, base_url: str, action: str, report_id: int, viewer_id: int
) -> str:
    """An absolute URL showing the report's `action` (code, data, thumbnail) to `viewer_id`."""
    expires = time.time() + CONTENT_URL_SECONDS
    token = content_signer(platform).sign(
        f"report-{action}", f"report/{report_id}", expires, u=viewer_id
    )
    return f"{base_url.rstrip('/')}{CONTENT_PREFIX}/{action}/{token}"


@dataclass(frozen=True)
class Claims:
    report_id: int
    viewer_id: int


def verify(platform: Platform, action: str, token: str) -> Claims:
    """The claims of a genuine, unexpired content token; TokenError (saying what to do) else."""
    try:
        # Expiry is checked below, with a message about reports rather than files.
        claims = content_signer(platform).verify(token, f"report-{action}", now=0.0)
    except TokenError as exc:
        raise TokenError(str(exc).replace("transfer URL", "report URL")) from None
    expires = int(claims.get("e", 0))
    if time.time() >= expires:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        raise TokenError(
            f"this report URL expired at {stamp}; GET /reports/{{id}} gives a fresh authCodeUrl"
        )
    key = str(claims.get("k") or "")
    if not key.startswith("report/") or not key[7:].isdigit():
        raise TokenError("this report URL is malformed; use the exact URL the API returned")
    return Claims(report_id=int(key[7:]), viewer_id=int(claims.get("u") or 0))


# -- what a report shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """The output file a job-backed report shows, and the run that made it."""

    run: RunRow
    file: FileRow


def readable(row: FileRow, store_kind: str | None, now: datetime | None = None) -> bool:
    """Whether the file's contents can be read now (in `store_kind`, the store in use)."""
    now = now or datetime.now(UTC)
    if row.state != "uploaded" or row.store != (store_kind or row.store):
        return False
    return row.expires_at is None or row.expires_at > now


def latest_output(
    session: Session,
    job_id: int,
    store_kind: str | None,
    visible: ColumnElement[bool] | None = None,
) -> Output | None:
    """The newest readable File output of the job's latest successful run (HTML preferred),
    among the files `visible` selects (those the report's owner may read)."""
    run = session.scalar(
        select(RunRow)
        .where(RunRow.job_id == job_id, RunRow.state == "succeeded")
        .order_by(RunRow.id.desc())
        .limit(1)
    )
    if run is None:
        return None
    files = session.scalars(
        select(FileRow)
        .join(RunOutputRow, RunOutputRow.object_id == FileRow.id)
        .where(
            RunOutputRow.run_id == run.id,
            RunOutputRow.object_type == "File",
            *([visible] if visible is not None else []),
        )
        .order_by(RunOutputRow.id.desc())
    ).all()
    now = datetime.now(UTC)
    usable = [f for f in files if readable(f, store_kind, now)]
    html = [f for f in usable if f.name.lower().endswith(HTML_SUFFIXES)]
    chosen = html or usable
    return Output(run=run, file=chosen[0]) if chosen else None


def report_code(session: Session, row: ReportRow) -> str | None:
    """The HTML a code report shows: its own code_body, else its template's."""
    if row.code_body is not None:
        return row.code_body
    if row.template_id is not None:
        template = session.get(ReportRow, row.template_id)
        if template is not None and template.code_body is not None:
            return template.code_body
    return None


def backing_job(session: Session, row: ReportRow) -> JobRow | None:
    return session.get(JobRow, row.script_id) if row.script_id is not None else None


# -- the API key handed to the report's front-end code -----------------------------------------

_HEAD = re.compile(rb"<head\b[^>]*>", re.IGNORECASE)
_HTML = re.compile(rb"<html\b[^>]*>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"^\s*<!doctype[^>]*>", re.IGNORECASE)


def key_script(values: dict[str, Any]) -> bytes:
    """`<script>window.civica = {...}</script>`, safe to put inside any HTML document."""
    text = json.dumps(values, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"<script>window.civica={text};</script>".encode()


def inject(html: bytes, snippet: bytes) -> bytes:
    """`snippet` as the first thing the page runs: after `<head>`, else after `<html>` or the
    doctype, else at the very start (keeping the doctype first keeps standards mode)."""
    for pattern in (_HEAD, _HTML, _DOCTYPE):
        found = pattern.search(html)
        if found is not None:
            return html[: found.end()] + snippet + html[found.end() :]
    return snippet + html

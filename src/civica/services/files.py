"""Files: start uploads, finish them, hand out download URLs, and sweep expired contents away.

A file row starts `pending` and becomes `uploaded` only once its bytes are complete in the store
(the local store renames a fully received, fsynced upload into place in the same transaction;
S3 makes an object visible only when its upload finished). Bytes never travel through these
functions: callers use the URLs the store signs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import mimetypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from civica.db.models import FileRow
from civica.platform import Platform
from civica.schemas.files import (
    File,
    FileCreate,
    FileDetectedInfo,
    FileMultipartCreate,
    FileMultipartPost,
    FilePost,
)
from civica.services.actor import Actor
from civica.services.errors import BadRequest, Conflict, NotFound, ServiceError
from civica.services.kinds import ObjectKind, register
from civica.services.permissions import Level, level_of, load
from civica.services.users import user_blocks
from civica.storage import (
    LocalStore,
    ObjectStore,
    StorageError,
    StoredObject,
    StoreUnavailable,
    UploadIncomplete,
    UploadTooLarge,
    file_store,
    new_key,
)
from civica.storage.local import IncomingFile

log = logging.getLogger("civica.files")
P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_LIFETIME = timedelta(days=30)
MAX_LINK_LIFETIME = timedelta(hours=36)
# How long after its upload URLs expired an unfinished upload is given up.
UPLOAD_GRACE = timedelta(hours=1)
SWEEP_BATCH = 500

PENDING, UPLOADED, FAILED, EXPIRED = "pending", "uploaded", "failed", "expired"


class PayloadTooLarge(ServiceError):
    status_code = 413
    error = "payload_too_large"


class Gone(ServiceError):
    status_code = 410
    error = "gone"


class StoreUnavailableError(ServiceError):
    status_code = 503
    error = "unavailable"


@contextmanager
def store_errors() -> Iterator[None]:
    """The store's refusals as answers with a status and a sentence (never a 500)."""
    try:
        yield
    except UploadIncomplete as exc:
        raise BadRequest(str(exc)) from None
    except UploadTooLarge as exc:
        raise PayloadTooLarge(f"{exc}; upload at most CIVICA_MAX_UPLOAD_BYTES per file") from None
    except StoreUnavailable as exc:
        raise StoreUnavailableError(
            f"{exc}; try again later, or ask the administrator to check CIVICA_STORAGE_URL"
        ) from None
    except StorageError as exc:
        raise Conflict(str(exc)) from None
    except OSError as exc:  # the local store's disk
        raise StoreUnavailableError(
            f"the server's file store failed ({exc.strerror}); try again later"
        ) from None


def answers_store_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Run `fn` inside `store_errors()`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with store_errors():
            return fn(*args, **kwargs)

    return wrapper


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _stamp(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_type_for(name: str) -> str:
    """The Content-Type a file is served with, from its name (compressed files as such)."""
    ctype, encoding = mimetypes.guess_type(name, strict=False)
    if encoding:
        return {
            "gzip": "application/gzip",
            "bzip2": "application/x-bzip2",
            "xz": "application/x-xz",
            "br": "application/x-brotli",
            "compress": "application/x-compress",
        }.get(encoding, "application/octet-stream")
    return ctype or "application/octet-stream"


def public_base(platform: Platform, request_base: str) -> str:
    """The base of absolute URLs: CIVICA_PUBLIC_URL when set, else the request's own base."""
    return (platform.settings.public_url or request_base).rstrip("/")


# -- the kind -----------------------------------------------------------------------------------


def _project_entry(row: FileRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "file_name": row.name,
        "file_size": row.size,
    }


def _detail_without_links(session: Session, actor: Actor, row: FileRow) -> File:
    return _file(session, actor, row, None, None, _now())


FILE = register(
    ObjectKind(
        path="files",
        object_type="file",
        label="File",
        row=FileRow,
        detail=_detail_without_links,
        detail_schema=File,
        seed_name="Data::S3File",
        project_section="files",
        project_entry=_project_entry,
        fco_type="files",
    )
)


# -- reading ------------------------------------------------------------------------------------


def _unreadable_reason(row: FileRow, store_kind: str, now: datetime) -> tuple[str, str | None]:
    """(state, why the contents cannot be read or None)."""
    if row.state == EXPIRED or (
        row.state != FAILED and row.expires_at is not None and row.expires_at <= now
    ):
        when = _stamp(row.expires_at) if row.expires_at else "an earlier date"
        return EXPIRED, (
            f"file {row.id} expired at {when} and its contents were removed; upload it again to "
            "get a new file (send expires_at: null to keep a file forever)"
        )
    if row.state == PENDING:
        how = (
            f"PUT every part to its upload URL, then call POST /files/multipart/{row.id}/complete"
            if row.multipart_upload_id
            else "POST the file to the uploadUrl that POST /files returned"
        )
        return PENDING, f"file {row.id} has no contents yet: its upload is not finished. {how}"
    if row.state == FAILED:
        return FAILED, (
            f"the upload of file {row.id} did not finish (it was abandoned, or larger than "
            "allowed); upload the file again with POST /files"
        )
    if row.store != store_kind:
        return row.state, (
            f"file {row.id} is kept in the {row.store} store, but this server now uses the "
            f"{store_kind} store; move its contents there or configure CIVICA_STORAGE_URL back"
        )
    return row.state, None


def _detected_info(row: FileRow) -> FileDetectedInfo:
    if not row.detected_info:
        return FileDetectedInfo()
    try:
        return FileDetectedInfo.model_validate(json.loads(row.detected_info))
    except ValueError:
        return FileDetectedInfo()


def _file(
    session: Session,
    actor: Actor,
    row: FileRow,
    links: tuple[str, str] | None,
    store_kind: str | None,
    now: datetime,
) -> File:
    state, why = _unreadable_reason(row, store_kind or row.store, now)
    if links is None and why is None:
        why = f"ask GET /files/{row.id} for URLs to read file {row.id}"
    file_url, download_url = links if links and why is None else (None, None)
    return File(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        file_size=row.size,
        expires_at=row.expires_at,
        description=row.description,
        author=user_blocks(session, [row.owner_id])[row.owner_id],
        download_url=download_url,
        file_url=file_url,
        detected_info=_detected_info(row),
        my_permission_level=level_of(session, actor, FILE, row).label,
        state=state,
        state_description=why,
    )


def _link_expiry(platform: Platform, row: FileRow, link_expires_at: datetime | None) -> datetime:
    now = _now()
    if link_expires_at is None:
        when = now + timedelta(seconds=platform.settings.download_url_seconds)
    else:
        when = _utc(link_expires_at)
        if when <= now or when > now + MAX_LINK_LIFETIME:
            raise BadRequest(
                "link_expires_at must be between now and 36 hours from now; got "
                f"{_stamp(when)}. Leave it out for the default of "
                f"{platform.settings.download_url_seconds // 60} minutes"
            )
    if row.expires_at is not None:
        when = min(when, row.expires_at)
    return when


def _finalize(platform: Platform, store: ObjectStore, row: FileRow, stored: StoredObject) -> None:
    """Record a complete object as the file's contents, or refuse it when it is too large."""
    if stored.size > platform.settings.max_upload_bytes:
        store.delete(row.storage_key)
        row.state = FAILED
        return
    row.state = UPLOADED
    row.size = stored.size
    row.checksum = stored.checksum
    row.checksum_algorithm = stored.checksum_algorithm
    row.uploaded_at = _now()


def _refresh_pending(platform: Platform, store: ObjectStore, row: FileRow) -> None:
    """A single upload straight to the store (S3) is only noticed when its object shows up."""
    if row.state != PENDING or row.multipart_upload_id or row.store != store.kind:
        return
    if isinstance(store, LocalStore):  # civica receives those itself, and records them then
        return
    stored = store.stat(row.storage_key)
    if stored is not None:
        _finalize(platform, store, row, stored)


@answers_store_errors
def get_file(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    file_id: int,
    base_url: str,
    link_expires_at: datetime | None = None,
    inline: bool | None = None,
) -> File:
    row: FileRow = load(session, actor, FILE, file_id, Level.READ)
    store = file_store(platform)
    _refresh_pending(platform, store, row)
    session.flush()
    now = _now()
    links: tuple[str, str] | None = None
    if _unreadable_reason(row, store.kind, now)[1] is None:
        expires = _link_expiry(platform, row, link_expires_at)
        base = public_base(platform, base_url)
        ctype = content_type_for(row.name)

        def url(as_inline: bool) -> str:
            return store.download_url(
                row.storage_key,
                filename=row.name,
                content_type=ctype,
                inline=as_inline,
                expires_at=expires,
                base_url=base,
            )

        download = url(False)
        links = (url(True) if inline else download, download)
    return _file(session, actor, row, links, store.kind, now)


# -- starting uploads ---------------------------------------------------------------------------


def _expiry(body: FileCreate | FileMultipartCreate) -> datetime | None:
    """Absent: 30 days from now. Explicit null: never. Else that time, which must be ahead."""
    if "expires_at" not in body.model_fields_set:
        return _now() + DEFAULT_LIFETIME
    if body.expires_at is None:
        return None
    when = _utc(body.expires_at)
    if when <= _now():
        raise BadRequest(
            f"expires_at must be in the future; got {_stamp(when)}. Leave it out for the 30-day "
            "default, or send null to keep the file forever"
        )
    return when


def _new_row(
    session: Session, actor: Actor, store: ObjectStore, body: FileCreate | FileMultipartCreate
) -> FileRow:
    row = FileRow(
        owner_id=actor.user_id,
        name=body.name,
        description=body.description,
        state=PENDING,
        store=store.kind,
        storage_key=new_key(),
        expires_at=_expiry(body),
    )
    session.add(row)
    return row


def _upload_deadline(platform: Platform) -> datetime:
    return _now() + timedelta(seconds=platform.settings.upload_url_seconds)


@answers_store_errors
def create_file(
    *, session: Session, actor: Actor, platform: Platform, body: FileCreate, base_url: str
) -> FilePost:
    store = file_store(platform)
    row = _new_row(session, actor, store, body)
    session.flush()
    form = store.upload_form(
        row.storage_key,
        expires_at=_upload_deadline(platform),
        max_bytes=platform.settings.max_upload_bytes,
        base_url=public_base(platform, base_url),
    )
    return FilePost(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        file_size=row.size,
        expires_at=row.expires_at,
        description=row.description,
        upload_url=form.url,
        upload_fields=form.fields,
        my_permission_level=Level.MANAGE.label,
    )


@answers_store_errors
def create_multipart_file(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    body: FileMultipartCreate,
    base_url: str,
) -> FileMultipartPost:
    store = file_store(platform)
    row = _new_row(session, actor, store, body)
    row.num_parts = body.num_parts
    row.multipart_upload_id = store.start_multipart(row.storage_key, body.num_parts)
    try:
        session.flush()
        deadline = _upload_deadline(platform)
        base = public_base(platform, base_url)
        urls = [
            store.part_upload_url(
                row.storage_key, row.multipart_upload_id, n, expires_at=deadline, base_url=base
            )
            for n in range(1, body.num_parts + 1)
        ]
    except BaseException:
        store.abort_multipart(row.storage_key, row.multipart_upload_id)
        raise
    return FileMultipartPost(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        file_size=row.size,
        expires_at=row.expires_at,
        description=row.description,
        upload_urls=urls,
    )


@answers_store_errors
def complete_multipart_file(
    *, session: Session, actor: Actor, platform: Platform, file_id: int
) -> None:
    """Join the uploaded parts into the file's contents. Completing twice is harmless."""
    row: FileRow = load(session, actor, FILE, file_id, Level.WRITE)
    if not row.multipart_upload_id or not row.num_parts:
        raise BadRequest(
            f"file {file_id} was not started with POST /files/multipart, so there is nothing to "
            "complete: a single upload is finished when its POST to the upload URL succeeds"
        )
    if row.state == UPLOADED:
        return
    store = file_store(platform)
    if row.store != store.kind:
        raise Conflict(
            f"file {file_id} was started in the {row.store} store, but this server now uses the "
            f"{store.kind} store; start the upload again with POST /files/multipart"
        )
    state, why = _unreadable_reason(row, store.kind, _now())
    if state != PENDING:
        raise Conflict(why or f"file {file_id} cannot be completed")
    with store_errors():
        stored = store.complete_multipart(
            row.storage_key,
            row.multipart_upload_id,
            row.num_parts,
            max_bytes=platform.settings.max_upload_bytes,
        )
    done = session.execute(
        update(FileRow)
        .where(FileRow.id == row.id, FileRow.state == PENDING)
        .values(
            state=UPLOADED,
            size=stored.size,
            checksum=stored.checksum,
            checksum_algorithm=stored.checksum_algorithm,
            uploaded_at=_now(),
        )
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        session.refresh(row)
        if row.state != UPLOADED:
            store.delete(row.storage_key)
            raise Conflict(f"file {file_id} became {row.state} while its parts were joined")


# -- the local store's transfer routes (no API key: the signed URL is the permission) ------------


def _row_by_key(session: Session, key: str) -> FileRow:
    row = session.scalar(select(FileRow).where(FileRow.storage_key == key))
    if row is None:
        raise NotFound("this URL's file no longer exists; start a new upload with POST /files")
    return row


def _already_used(row: FileRow) -> Conflict:
    return Conflict(
        f"this upload URL was already used: file {row.id} is uploaded with other contents, which "
        "cannot be overwritten; start a new file with POST /files"
    )


def _check_receivable(row: FileRow, upload_id: str | None) -> None:
    if row.state == UPLOADED:
        # A single upload sent again (a client retrying after a lost answer) is let through to
        # be compared once received: the same contents succeed again, others are refused.
        if upload_id is None and row.multipart_upload_id is None:
            return
        raise _already_used(row)
    state, why = _unreadable_reason(row, LocalStore.kind, _now())
    if state != PENDING:
        raise Gone(why or f"file {row.id} can no longer be uploaded")
    if (row.multipart_upload_id or None) != upload_id:
        raise Conflict(
            "this URL belongs to another kind of upload of the file; use the URLs POST /files "
            "or POST /files/multipart returned"
        )


def check_upload_target(*, session: Session, key: str, upload_id: str | None = None) -> int:
    """The id of the pending file a signed upload (or part) URL may still write to."""
    row = _row_by_key(session, key)
    _check_receivable(row, upload_id)
    return row.id


@answers_store_errors
def finish_upload(
    *,
    session: Session,
    platform: Platform,
    key: str,
    incoming: IncomingFile,
    stored: StoredObject,
) -> int:
    """Make a fully received, fsynced single upload the file's contents: the state changes and
    the bytes move into place together, or neither happens."""
    store = file_store(platform)
    if not isinstance(store, LocalStore):
        raise NotFound("this server's files are not kept in a local store")
    row = _row_by_key(session, key)
    _check_receivable(row, None)
    if row.state == UPLOADED:
        if (row.size, row.checksum) != (stored.size, stored.checksum):
            raise _already_used(row)
        incoming.discard()
        return row.id
    done = session.execute(
        update(FileRow)
        .where(FileRow.id == row.id, FileRow.state == PENDING)
        .values(
            state=UPLOADED,
            size=stored.size,
            checksum=stored.checksum,
            checksum_algorithm=stored.checksum_algorithm,
            uploaded_at=_now(),
        )
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise _already_used(row)
    store.commit(incoming, key)
    return row.id


@answers_store_errors
def finish_direct_upload(*, session: Session, platform: Platform, key: str) -> str | None:
    """A store (S3) reports, through the redirect after its upload, that `key` was uploaded:
    record it now. Idempotent. Returns None when the file is uploaded, else why it is not (the
    caller answers with an error after this transaction kept what was recorded)."""
    row = _row_by_key(session, key)
    store = file_store(platform)
    _refresh_pending(platform, store, row)
    session.flush()
    if row.state == UPLOADED:
        return None
    if row.state == FAILED:
        return (
            f"file {row.id} is larger than the {platform.settings.max_upload_bytes} bytes "
            "allowed and was removed; upload at most CIVICA_MAX_UPLOAD_BYTES per file"
        )
    return _unreadable_reason(row, store.kind, _now())[1] or f"file {row.id} cannot be read"


# -- expiry -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    expired: int = 0
    failed: int = 0
    finished: int = 0
    leftovers: int = 0


def _discard_contents(store: ObjectStore, row: FileRow) -> None:
    if row.store != store.kind:
        return
    if row.multipart_upload_id and row.state == PENDING:
        store.abort_multipart(row.storage_key, row.multipart_upload_id)
    store.delete(row.storage_key)


def sweep_files(
    *, session: Session, platform: Platform, now: datetime | None = None
) -> SweepReport:
    """Remove expired files' contents (state → expired), give up uploads left unfinished past
    their URLs' lifetime (→ failed), and clear the store's leftovers. Safe to run anywhere, any
    number of times, in several processes at once."""
    now = now or _now()
    store = file_store(platform)
    expired = failed = finished = 0
    due = session.scalars(
        select(FileRow)
        .where(
            FileRow.state.in_((PENDING, UPLOADED, FAILED)),
            FileRow.expires_at.is_not(None),
            FileRow.expires_at <= now,
        )
        .order_by(FileRow.expires_at)
        .limit(SWEEP_BATCH)
    ).all()
    for row in due:
        try:
            _discard_contents(store, row)
        except StorageError:
            log.exception("file sweep: could not remove file %s's contents; later", row.id)
            continue
        row.state = EXPIRED
        expired += 1
    stale_before = now - timedelta(seconds=platform.settings.upload_url_seconds) - UPLOAD_GRACE
    stale = session.scalars(
        select(FileRow)
        .where(FileRow.state == PENDING, FileRow.created_at < stale_before)
        .order_by(FileRow.id)
        .limit(SWEEP_BATCH)
    ).all()
    for row in stale:
        try:
            _refresh_pending(platform, store, row)
            if row.state == UPLOADED:
                finished += 1
                continue
            _discard_contents(store, row)
        except StorageError:
            log.exception("file sweep: could not settle file %s's upload; later", row.id)
            continue
        row.state = FAILED
        failed += 1
    session.flush()
    try:
        leftovers = store.sweep_leftovers(stale_before)
    except StorageError:
        log.exception("file sweep: could not clear the store's leftovers; later")
        leftovers = 0
    return SweepReport(expired=expired, failed=failed, finished=finished, leftovers=leftovers)


def _sweep_once(platform: Platform) -> SweepReport:
    with platform.transaction() as session:
        return sweep_files(session=session, platform=platform)


async def run_sweeper(platform: Platform, interval: float) -> None:
    """Sweep every `interval` seconds until cancelled (started by the app's lifespan)."""
    while True:
        await asyncio.sleep(interval)
        try:
            report = await run_in_threadpool(_sweep_once, platform)
            if report.expired or report.failed or report.leftovers:
                log.info("file sweep: %s", report)
        except Exception:
            log.exception("file sweep failed; it will be tried again in %s s", interval)

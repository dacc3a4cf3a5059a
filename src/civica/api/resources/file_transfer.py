"""The local store's transfer URLs: `POST /transfer/upload/{token}` (an S3-style form upload),
`PUT /transfer/part/{token}` (one part of a multipart upload) and `GET /transfer/download/{token}`.

No API key is needed (the public client sends none): the signed token is the permission, bound to
one object and expiring. Bodies stream to a temporary file in the store in ~1 MiB batches written
off the event loop, and downloads stream from disk, so memory stays flat whatever the size.

These routes live in their own small app, reached through `TransferDispatch` before the API's
JSON body limit applies: uploads have their own limit (CIVICA_MAX_UPLOAD_BYTES). They are not
part of `/endpoints`.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from civica.api.wire import install_error_handlers
from civica.platform import Platform
from civica.services import files as svc
from civica.services.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceError
from civica.storage import (
    LocalStore,
    StorageError,
    TokenError,
    UploadTooLarge,
    file_store,
    transfer_signer,
)
from civica.storage.base import content_disposition
from civica.storage.local import IncomingFile
from civica.storage.signing import TRANSFER_PREFIX

BATCH_BYTES = 1024 * 1024
FORM_OVERHEAD = 256 * 1024  # multipart boundaries, part headers and the small fields
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 64

router = APIRouter(include_in_schema=False)


class UnsupportedMediaType(ServiceError):
    status_code = 415
    error = "unsupported_media_type"


class InsufficientStorage(ServiceError):
    status_code = 507
    error = "insufficient_storage"


def _disk_error(exc: OSError) -> ServiceError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientStorage(
            "the server's file store is full; try again later, or ask the administrator to free "
            "space"
        )
    return svc.StoreUnavailableError(
        f"the server's file store could not write the upload ({exc.strerror}); try again later"
    )


def _local_store(request: Request) -> tuple[Platform, LocalStore]:
    platform: Platform = request.app.state.platform
    store = file_store(platform)
    if not isinstance(store, LocalStore):
        raise NotFound(
            "this server keeps files in an S3-compatible store: use the URLs the API returned, "
            "which point there"
        )
    return platform, store


def _claims(platform: Platform, token: str, action: str) -> dict[str, Any]:
    try:
        return transfer_signer(platform).verify(token, action)
    except TokenError as exc:
        raise Forbidden(str(exc)) from None


def _in_transaction(platform: Platform, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    with platform.transaction() as session:
        return fn(session=session, **kwargs)


def _check_length(request: Request, limit: int, overhead: int = 0) -> None:
    """Refuse a body whose declared length is already over the limit, before reading it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + overhead:
        raise svc.PayloadTooLarge(
            f"the upload is {declared} bytes, more than the {limit} bytes allowed; split the "
            "data into smaller files or ask the administrator to raise CIVICA_MAX_UPLOAD_BYTES"
        )


async def _pump(request: Request, feed: Callable[[bytes], None]) -> None:
    """Read the body and hand it to `feed` in ~1 MiB batches, in a worker thread."""
    pending: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if not chunk:
            continue
        pending.append(chunk)
        size += len(chunk)
        if size >= BATCH_BYTES:
            data = b"".join(pending)
            pending.clear()
            size = 0
            await anyio.to_thread.run_sync(feed, data)
    if pending:
        await anyio.to_thread.run_sync(feed, b"".join(pending))


def _limited(write: Callable[[bytes], None]) -> Callable[[bytes], None]:
    def feed(data: bytes) -> None:
        try:
            write(data)
        except UploadTooLarge as exc:
            raise svc.PayloadTooLarge(str(exc)) from None
        except OSError as exc:
            raise _disk_error(exc) from None

    return feed


class FormReceiver:
    """A streaming multipart/form-data reader: the `file` part goes to an incoming file, the
    other parts (small, bounded) are kept as text fields. Every part may carry a filename: the
    public client sends each field as a file part."""

    def __init__(self, boundary: bytes, sink: IncomingFile) -> None:
        self.sink = sink
        self.fields: dict[str, str] = {}
        self.file_parts = 0
        self.finished = False
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._field = bytearray()
        if not 1 <= len(boundary) <= 70:
            raise BadRequest("the multipart boundary must be 1 to 70 characters long")
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def feed(self, data: bytes) -> None:
        try:
            self._parser.write(data)
        except UploadTooLarge as exc:
            raise svc.PayloadTooLarge(str(exc)) from None
        except ServiceError:
            raise
        except OSError as exc:
            raise _disk_error(exc) from None
        except Exception as exc:  # the parser's own errors: a malformed body
            raise BadRequest(f"the multipart/form-data body is malformed: {exc}") from None

    def check_complete(self, key: str) -> None:
        if not self.finished:
            raise BadRequest("the multipart/form-data body ended early; send the whole form")
        if self.file_parts != 1:
            raise BadRequest(
                'the form needs exactly one "file" part with the contents, after the fields that '
                f"POST /files returned; got {self.file_parts}"
            )
        if self.fields.get("key", key) != key:
            raise BadRequest(
                'the form\'s "key" field does not match this upload URL; send the uploadFields '
                "that POST /files returned, unchanged"
            )

    def _part_begin(self) -> None:
        self._headers = {}
        self._name = ""
        self._is_file = False
        self._field = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = self._name == "file"
        if self._is_file:
            self.file_parts += 1
            if self.file_parts > 1:
                raise BadRequest('the form has more than one "file" part; send exactly one')
        elif len(self.fields) >= MAX_FIELDS:
            raise BadRequest(f"the form has more than {MAX_FIELDS} fields")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.sink.write(memoryview(data)[start:end])
            return
        self._field += data[start:end]
        if len(self._field) > MAX_FIELD_BYTES:
            raise BadRequest(f"form field {self._name!r} is longer than {MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if not self._is_file:
            self.fields[self._name] = self._field.decode("utf-8", "replace")

    def _end(self) -> None:
        self.finished = True


def _boundary(request: Request) -> bytes:
    ctype, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            "send the upload as multipart/form-data: the uploadFields from POST /files, then the "
            'contents as the "file" field'
        )
    return boundary


@router.post("/transfer/upload/{token}")
async def upload(token: str, request: Request) -> Response:
    platform, store = _local_store(request)
    claims = _claims(platform, token, "upload")
    key = str(claims["k"])
    limit = min(int(claims.get("x", platform.settings.max_upload_bytes)),
                platform.settings.max_upload_bytes)  # fmt: skip
    boundary = _boundary(request)
    _check_length(request, limit, FORM_OVERHEAD)
    await run_in_threadpool(_in_transaction, platform, svc.check_upload_target, key=key)
    try:
        incoming = await anyio.to_thread.run_sync(lambda: store.incoming(limit=limit))
    except OSError as exc:
        raise _disk_error(exc) from None
    committed = False
    try:
        form = FormReceiver(boundary, incoming)
        await _pump(request, form.feed)
        form.check_complete(key)
        try:
            stored = await anyio.to_thread.run_sync(incoming.finish)
        except OSError as exc:
            raise _disk_error(exc) from None
        await run_in_threadpool(
            _in_transaction, platform, svc.finish_upload, platform=platform, key=key,
            incoming=incoming, stored=stored,
        )  # fmt: skip
        committed = True
    except ClientDisconnect:
        raise BadRequest("the client went away before the upload finished") from None
    finally:
        if not committed:
            await anyio.to_thread.run_sync(incoming.discard)
    return Response(status_code=204)


@router.put("/transfer/part/{token}")
async def upload_part(token: str, request: Request) -> Response:
    platform, store = _local_store(request)
    claims = _claims(platform, token, "part")
    key, upload_id, part = str(claims["k"]), str(claims["u"]), int(claims["n"])
    limit = platform.settings.max_upload_bytes
    _check_length(request, limit)
    await run_in_threadpool(
        _in_transaction, platform, svc.check_upload_target, key=key, upload_id=upload_id
    )
    declared = request.headers.get("content-length")
    length = int(declared) if declared is not None and declared.isdigit() else None
    try:
        writer = await anyio.to_thread.run_sync(store.part_writer, upload_id, part, length, limit)
    except UploadTooLarge as exc:
        raise svc.PayloadTooLarge(str(exc)) from None
    except StorageError as exc:
        raise Conflict(str(exc)) from None
    except OSError as exc:
        raise _disk_error(exc) from None
    committed = False
    try:
        await _pump(request, _limited(writer.write))
        # Parts need not be durable on their own: the joined file is fsynced on completion.
        try:
            await anyio.to_thread.run_sync(store.commit_part, writer, upload_id)
        except StorageError as exc:
            raise Conflict(str(exc)) from None
        except OSError as exc:
            raise _disk_error(exc) from None
        committed = True
    except ClientDisconnect:
        raise BadRequest("the client went away before the part was sent") from None
    finally:
        if not committed:
            await anyio.to_thread.run_sync(writer.discard)
    return Response(status_code=200)


@router.get("/transfer/uploaded/{token}")
async def uploaded(token: str, request: Request) -> Response:
    """Where an S3 store redirects a finished form upload: the file is recorded at once."""
    platform: Platform = request.app.state.platform
    claims = _claims(platform, token, "uploaded")
    problem = await run_in_threadpool(
        _in_transaction, platform, svc.finish_direct_upload, platform=platform, key=str(claims["k"])
    )
    if problem is not None:
        raise Conflict(problem)
    return Response(status_code=204)


class TransferFileResponse(FileResponse):
    chunk_size = 1024 * 1024


@router.api_route("/transfer/download/{token}", methods=["GET", "HEAD"])
async def download(token: str, request: Request) -> Response:
    platform, store = _local_store(request)
    claims = _claims(platform, token, "download")
    try:
        path = store.path(str(claims["k"]))
        stat = await anyio.to_thread.run_sync(os.stat, path)
    except (FileNotFoundError, StorageError):
        raise NotFound(
            "this file's contents are gone: it expired or was removed; GET /files/{id} says why"
        ) from None
    disposition = "inline" if claims.get("i") else "attachment"
    return TransferFileResponse(
        path,
        stat_result=stat,
        media_type=str(claims.get("t") or "application/octet-stream"),
        headers={
            "content-disposition": content_disposition(disposition, str(claims.get("n") or "file")),
            "cache-control": "private, max-age=0",
            "x-content-type-options": "nosniff",
            # Shown in a browser, an uploaded page runs no script in civica's origin.
            "content-security-policy": "sandbox",
        },
    )


def transfer_app(platform: Platform) -> FastAPI:
    """The app serving the transfer routes, with the API's error format but no body limit."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    app.state.platform = platform
    install_error_handlers(app)
    app.include_router(router)
    return app


class TransferDispatch:
    """ASGI middleware: `/transfer/...` goes to the transfer app, everything else on."""

    def __init__(self, app: ASGIApp, transfer: ASGIApp) -> None:
        self.app = app
        self.transfer = transfer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(TRANSFER_PREFIX + "/"):
            await self.transfer(scope, receive, send)
        else:
            await self.app(scope, receive, send)

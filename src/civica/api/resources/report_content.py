"""Report pages: `GET /report-content/{code|data|thumbnail}/{token}`.

The URLs come from `GET /reports/{id}` (`authCodeUrl`, `authDataUrl`, `authThumbnailUrl`): the
signed token names the report and the viewer, whose read permission is checked again on every
request, and expires (civica.reports.content). No API key is sent: a browser opens these.

Every answer carries `Content-Security-Policy: sandbox allow-scripts ...` without
`allow-same-origin`, so the report's code runs in an opaque origin: it cannot read civica's
cookies or storage nor call civica with the viewer's credentials, even though it is served from
civica's host. These routes are served by their own small app (like `/transfer`), outside the
API's routes and `/endpoints`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import httpx
from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from civica.api.wire import install_error_handlers
from civica.db.models import FileRow, ReportRow
from civica.platform import Platform
from civica.reports.content import (
    ACTIONS,
    CODE,
    CONTENT_HEADERS,
    CONTENT_PREFIX,
    inject,
    key_script,
    verify,
)
from civica.services import reports as svc
from civica.services.errors import Forbidden, NotFound
from civica.services.files import content_type_for, public_base
from civica.storage import LocalStore, TokenError, file_store
from civica.storage.base import content_disposition

# Output files bigger than this are streamed as they are (no window.civica script added).
MAX_INJECT_BYTES = 32 * 1024 * 1024
CHUNK = 1024 * 1024

router = APIRouter(include_in_schema=False)


class _Found:
    def __init__(
        self, code: bytes | None, file: FileRow | None, values: dict[str, object] | None
    ) -> None:
        self.code = code
        self.file = file
        self.values = values


def _lookup(platform: Platform, action: str, token: str, base: str) -> _Found:
    try:
        claims = verify(platform, action, token)
    except TokenError as exc:
        raise Forbidden(str(exc)) from None
    with platform.transaction() as session:
        row, code, file = svc.content_target(
            session, platform, action, claims.report_id, claims.viewer_id
        )
        assert isinstance(row, ReportRow)
        values = svc.key_values(session, platform, row, base) if action == CODE else None
        if file is not None:
            session.expunge(file)
        return _Found(code.encode("utf-8") if code is not None else None, file, values)


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**CONTENT_HEADERS, **(extra or {})}


def _read_all(platform: Platform, file: FileRow) -> bytes:
    store = file_store(platform)
    if isinstance(store, LocalStore):
        return store.path(file.storage_key).read_bytes()
    url = _store_url(platform, file)
    with httpx.Client(timeout=60) as client:
        got = client.get(url)
        got.raise_for_status()
        return got.content


def _store_url(platform: Platform, file: FileRow) -> str:
    store = file_store(platform)
    return store.download_url(
        file.storage_key,
        filename=file.name,
        content_type=content_type_for(file.name),
        inline=True,
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
        base_url=public_base(platform, ""),
    )


async def _proxy(url: str) -> AsyncIterator[bytes]:
    async with (
        httpx.AsyncClient(timeout=60) as client,
        client.stream("GET", url) as upstream,
    ):
        upstream.raise_for_status()
        async for chunk in upstream.aiter_bytes(CHUNK):
            yield chunk


@router.get("/report-content/{action}/{token}")
async def report_content(action: str, token: str, request: Request) -> Response:
    platform: Platform = request.app.state.platform
    if action not in ACTIONS:
        raise NotFound(
            f"no report content of kind {action!r}; use the URLs GET /reports/{{id}} gives"
        )
    base = public_base(platform, str(request.base_url))
    found = await run_in_threadpool(_lookup, platform, action, token, base)
    if found.code is not None:
        assert found.values is not None
        body = inject(found.code, key_script(found.values))
        return Response(body, media_type="text/html; charset=utf-8", headers=_headers())
    file = found.file
    assert file is not None
    ctype = content_type_for(file.name)
    disposition = {"content-disposition": content_disposition("inline", file.name)}
    is_html = ctype == "text/html"
    if action == CODE and is_html and (file.size or 0) <= MAX_INJECT_BYTES:
        assert found.values is not None
        try:
            data = await anyio.to_thread.run_sync(_read_all, platform, file)
        except (OSError, httpx.HTTPError):
            raise NotFound(
                f"the output file {file.id} of this report could not be read; run its job again"
            ) from None
        body = inject(data, key_script(found.values))
        return Response(body, media_type="text/html; charset=utf-8", headers=_headers(disposition))
    store = file_store(platform)
    if isinstance(store, LocalStore):
        path = store.path(file.storage_key)
        try:
            stat = await anyio.to_thread.run_sync(os.stat, path)
        except FileNotFoundError:
            raise NotFound(f"the output file {file.id} of this report is gone") from None
        return FileResponse(path, stat_result=stat, media_type=ctype, headers=_headers(disposition))
    url = await anyio.to_thread.run_sync(_store_url, platform, file)
    return StreamingResponse(_proxy(url), media_type=ctype, headers=_headers(disposition))


def report_content_app(platform: Platform) -> FastAPI:
    """The app serving report pages, with the API's error format."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    app.state.platform = platform
    install_error_handlers(app)
    app.include_router(router)
    return app


class ReportContentDispatch:
    """ASGI middleware: `/report-content/...` goes to the report-content app."""

    def __init__(self, app: ASGIApp, content: ASGIApp) -> None:
        self.app = app
        self.content = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CONTENT_PREFIX + "/"):
            await self.content(scope, receive, send)
        else:
            await self.app(scope, receive, send)

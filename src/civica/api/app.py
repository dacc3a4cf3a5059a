"""The FastAPI application: wire conventions, every resource router, and `/endpoints`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from starlette.types import Lifespan

import civica
from civica.api import spec
from civica.api.audit import AuditMiddleware, AuditWriter
from civica.api.cors import ApiCors
from civica.api.deps import AuthCache, CtxDep
from civica.api.ratelimit import RateLimiter
from civica.api.resources import resource_routers
from civica.api.resources.file_transfer import TransferDispatch, transfer_app
from civica.api.resources.report_content import ReportContentDispatch, report_content_app
from civica.api.routing import SegmentDispatch, leaf_routes
from civica.api.wire import WireMiddleware, document_errors, install_error_handlers
from civica.platform import Platform
from civica.services.files import run_sweeper
from civica.storage import file_store
from civica.web import mount_web


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="civica",
        version=civica.__version__,
        description="A self-hostable data-science platform. The Swagger 2.0 document both clients "
        "build from is at /endpoints; this page documents the same routes.",
        redirect_slashes=False,
    )
    app.state.platform = platform
    app.state.auth_cache = AuthCache(platform.settings.auth_cache_seconds)
    app.state.rate_limiter = RateLimiter(platform.settings.rate_limit_per_minute)
    app.state.max_body_bytes = platform.settings.max_body_bytes
    install_error_handlers(app)
    document_errors(app)
    for router in resource_routers():
        app.router.routes.extend(leaf_routes(router))

    @app.get(
        "/endpoints", summary="The API spec (Swagger 2.0) the clients build their methods from"
    )
    def endpoints(ctx: CtxDep) -> Any:
        cached = getattr(app.state, "swagger", None)
        if cached is None:
            cached = app.state.swagger = spec.generate(app)
        return cached

    # Innermost first: the audit trail sees the paths the wire middleware normalised.
    audit_writer = AuditWriter(platform)
    app.add_middleware(AuditMiddleware, writer=audit_writer)
    mount_web(app)  # the web UI under /ui (not in the spec)
    app.add_middleware(WireMiddleware, max_body_bytes=platform.settings.max_body_bytes)

    # Files: the local store's transfer URLs bypass the JSON body limit (they have their own),
    # and a background sweep removes expired files' contents.
    app.add_middleware(TransferDispatch, transfer=transfer_app(platform))
    # Reports: their pages are served sandboxed at signed URLs, outside the API (docs/reports.md).
    app.add_middleware(ReportContentDispatch, content=report_content_app(platform))
    # Outermost: browser code with an API key (report pages) may call the API cross-origin.
    app.add_middleware(ApiCors)
    # Matching: only the routes that share the path's first segment are tried (every route is
    # matched in order otherwise, which costs more than a short request).
    if app.router.middleware_stack == app.router.app:  # no router middleware to keep in front
        app.router.middleware_stack = SegmentDispatch(app.router)
    app.router.lifespan_context = _with_audit_drain(app.router.lifespan_context, audit_writer)
    app.router.lifespan_context = _with_file_sweeper(app.router.lifespan_context, platform)
    # Execution: CIVICA_WORKERS in-process workers run queued runs (0 leaves it to `civica worker`).
    app.router.lifespan_context = _with_workers(app.router.lifespan_context, platform)
    # Scheduling: the scheduler loop (one leader across processes) and, when turned on, the
    # trigger-mail SMTP listener (docs/schedules.md).
    app.router.lifespan_context = _with_scheduler(app.router.lifespan_context, platform)
    return app


def _with_audit_drain(inner: Lifespan[Any], writer: AuditWriter) -> Lifespan[Any]:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state:
            try:
                yield state
            finally:
                # The audit rows of the last calls are written before the process goes.
                await asyncio.to_thread(writer.drain)

    return lifespan


def _with_file_sweeper(inner: Lifespan[Any], platform: Platform) -> Lifespan[Any]:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state:
            file_store(platform)  # a wrong CIVICA_STORAGE_URL stops the start, with its reason
            interval = platform.settings.file_sweep_seconds
            task = asyncio.create_task(run_sweeper(platform, interval)) if interval > 0 else None
            try:
                yield state
            finally:
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task

    return lifespan


def _with_workers(inner: Lifespan[Any], platform: Platform) -> Lifespan[Any]:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        from civica.execution.worker import start_workers, stop_workers

        async with inner(app) as state:
            workers = await asyncio.to_thread(start_workers, platform)
            try:
                yield state
            finally:
                await asyncio.to_thread(stop_workers, workers)

    return lifespan


def _with_scheduler(inner: Lifespan[Any], platform: Platform) -> Lifespan[Any]:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        from civica.notify.listener import start_trigger_listener
        from civica.scheduling.scheduler import start_scheduler

        async with inner(app) as state:
            scheduler = await asyncio.to_thread(start_scheduler, platform)
            listener = await asyncio.to_thread(start_trigger_listener, platform)
            try:
                yield state
            finally:
                if listener is not None:
                    await asyncio.to_thread(listener.stop)
                if scheduler is not None:
                    await asyncio.to_thread(scheduler.stop)

    return lifespan

"""The FastAPI application: wire conventions, every resource router, and `/endpoints`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

import civica
from civica.api import spec
from civica.api.deps import AuthCache, CtxDep
from civica.api.resources import resource_routers
from civica.api.wire import WireMiddleware, install_error_handlers
from civica.platform import Platform


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
    app.state.max_body_bytes = platform.settings.max_body_bytes
    install_error_handlers(app)
    for router in resource_routers():
        app.include_router(router)

    @app.get(
        "/endpoints", summary="The API spec (Swagger 2.0) the clients build their methods from"
    )
    def endpoints(ctx: CtxDep) -> Any:
        cached = getattr(app.state, "swagger", None)
        if cached is None:
            cached = app.state.swagger = spec.generate(app)
        return cached

    app.add_middleware(WireMiddleware, max_body_bytes=platform.settings.max_body_bytes)
    return app

"""The web UI: server-rendered pages (Jinja2 + htmx) under `/ui`, calling the services as the
signed-in user. `mount_web` adds it to the API's app; see docs/web.md."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from civica.api.ratelimit import RateLimiter
from civica.api.routing import leaf_routes
from civica.web.core import (
    HERE,
    NAV,
    PREFIX,
    NavItem,
    PageError,
    SignInRequired,
    Web,
    page_router,
    render,
    sign_in_url,
    signed_in,
)
from civica.web.pages import PAGES, auth

TITLES = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    429: "Slow down",
}


def mount_web(app: FastAPI) -> None:
    """Serve the pages under /ui (outside the API's spec), their static files, and / → /ui.

    Routes are added flat, with their full paths (as the API's are), so the audit trail names
    them as they are: `POST /ui/credentials`, not the API's `POST /credentials`."""
    app.state.sign_in_limiter = RateLimiter(auth.SIGN_IN_PER_MINUTE)
    NAV.clear()
    # The static files first: the last route is a catch-all 404 page.
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="web-static")
    for module in PAGES:
        app.router.routes.extend(leaf_routes(module.router))
        if module.NAV is not None:
            NAV.append(NavItem(*module.NAV))

    rest = page_router()

    @rest.get("")
    def home() -> Response:
        return RedirectResponse(f"{PREFIX}/projects", status_code=303)

    @rest.api_route("/{path:path}", methods=["GET", "POST"])
    def unknown(path: str, _web: Annotated[Web, Depends(signed_in)]) -> Response:
        raise PageError(404, f"there is no page at {PREFIX}/{path}")

    app.router.routes.extend(leaf_routes(rest))
    app.add_api_route(
        "/",
        lambda: RedirectResponse(f"{PREFIX}/projects", status_code=303),
        include_in_schema=False,
    )

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        if request.headers.get("hx-request"):
            return render(
                request, "_error_fragment.html", exc.status_code, description=exc.description
            )
        return render(
            request,
            "error.html",
            exc.status_code,
            title=TITLES.get(exc.status_code, "Something went wrong"),
            description=exc.description,
        )

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": sign_in_url(request)})
        return RedirectResponse(sign_in_url(request), status_code=303)

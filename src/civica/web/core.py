"""What every page needs: the browser session, the signed-in actor, CSRF checks, rendering.

The session lives in one cookie, encrypted and authenticated with the platform's secret key
(`SecretBox`, Fernet). It holds a per-session CSRF token and, once signed in, a short-lived API key
issued for this session: every request authenticates with that key exactly as the API does
(unknown, revoked, expired keys and inactive users are refused), and signing out revokes it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from civica.api.deps import AuthCache, Ctx
from civica.api.ratelimit import RateLimiter, TooManyRequests
from civica.api.wire import describe_validation
from civica.platform import Platform
from civica.security import hash_api_key
from civica.services import users
from civica.services.actor import Actor
from civica.services.errors import ServiceError
from civica.services.paging import PageParams

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

PREFIX = "/ui"
COOKIE = "civica_session"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HERE = Path(__file__).resolve().parent

templates = Jinja2Templates(directory=str(HERE / "templates"))


class PageError(Exception):
    """A failure shown to the person as an HTML page with this status."""

    def __init__(self, status_code: int, description: str) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.description = description


def shown_on_form(exc: PageError) -> bool:
    """Whether a failure belongs next to the form that caused it (bad input, conflicts, lacking
    rights) rather than on an error page of its own (not found, server trouble)."""
    return exc.status_code in (400, 403, 409, 413, 422)


class SignInRequired(Exception):
    """No valid session: send the browser to the sign-in page (or 401 for htmx/fetch)."""


# -- navigation and links to object pages -------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str


# The header's links, in order: filled from each page module's `NAV` by `civica.web.mount_web`.
NAV: list[NavItem] = []

# -- links to object pages ----------------------------------------------------------------------

# object_type (as in civica.services.kinds) -> URL template of its page, filled by page modules.
OBJECT_PAGES: dict[str, str] = {}


def object_page(object_type: str, pattern: str) -> None:
    """Declare the page that shows objects of `object_type` (`pattern` has `{id}`)."""
    OBJECT_PAGES[object_type] = pattern


def object_url(object_type: str, object_id: int) -> str | None:
    pattern = OBJECT_PAGES.get(object_type)
    return pattern.format(id=object_id) if pattern else None


# -- the session cookie -------------------------------------------------------------------------


@dataclass
class BrowserSession:
    csrf: str
    key: str | None = None
    key_id: int | None = None
    expires: float = 0.0
    dirty: bool = False

    @classmethod
    def fresh(cls) -> BrowserSession:
        return cls(csrf=secrets.token_urlsafe(32), dirty=True)

    def encode(self, platform: Platform) -> str:
        data = {"csrf": self.csrf, "key": self.key, "kid": self.key_id, "exp": self.expires}
        return platform.secrets.encrypt(json.dumps(data)).decode()

    @classmethod
    def decode(cls, platform: Platform, value: str | None) -> BrowserSession:
        if not value:
            return cls.fresh()
        try:
            data = json.loads(platform.secrets.decrypt(value.encode()))
            session = cls(
                csrf=str(data["csrf"]),
                key=data.get("key"),
                key_id=data.get("kid"),
                expires=float(data.get("exp") or 0),
            )
        except (ValueError, KeyError, TypeError):
            return cls.fresh()
        if session.key and session.expires < time.time():
            return cls.fresh()
        return session


def browser_session(request: Request) -> BrowserSession:
    """This request's session (decoded once and kept on `request.state`)."""
    found = getattr(request.state, "web_session", None)
    if found is None:
        platform: Platform = request.app.state.platform
        found = BrowserSession.decode(platform, request.cookies.get(COOKIE))
        request.state.web_session = found
    assert isinstance(found, BrowserSession)
    return found


def persist(request: Request, response: Response) -> Response:
    """Write the session cookie when it changed: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    state = browser_session(request)
    if state.dirty:
        platform: Platform = request.app.state.platform
        response.set_cookie(
            COOKIE,
            state.encode(platform),
            max_age=SESSION_SECONDS if state.key else None,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def _authenticate(platform: Platform, key: str) -> Actor | None:
    with platform.transaction() as session:
        return users.authenticate(session=session, key=key)


async def session_actor(request: Request) -> Actor | None:
    """The signed-in actor, checked like an API key on every request (with the API's cache)."""
    state = browser_session(request)
    if not state.key:
        return None
    cache: AuthCache = request.app.state.auth_cache
    digest = hash_api_key(state.key)
    actor = cache.get(digest)
    if actor is None:
        actor = await run_in_threadpool(_authenticate, request.app.state.platform, state.key)
        if actor is None:
            return None
        cache.put(digest, actor)
    request.state.actor = actor  # for the audit trail, as for API calls
    limiter: RateLimiter = request.app.state.rate_limiter
    try:
        limiter.check(digest)  # a session spends from its key's bucket like any API key
    except TooManyRequests as exc:
        raise PageError(429, exc.description) from exc
    return actor


async def check_csrf(request: Request) -> None:
    """Every unsafe request carries the session's CSRF token (form field or X-CSRF-Token)."""
    if request.method not in UNSAFE:
        return
    state = browser_session(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # cached by Starlette: the route reads the same form
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, state.csrf):
        raise PageError(
            403,
            "This form has expired or did not come from this site (its security token is "
            "missing or wrong). Reload the page and try again.",
        )


def page_router() -> APIRouter:
    """The router of one page module: its paths under /ui, CSRF checked on every unsafe request,
    nothing in the API's spec."""
    return APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(check_csrf)])


# -- the per-request context for pages ----------------------------------------------------------


@dataclass
class Web:
    """A page request: who is signed in, and helpers to call services and answer HTML."""

    request: Request
    platform: Platform
    actor: Actor
    session: BrowserSession
    extra: dict[str, Any] = field(default_factory=dict)

    def call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """One service call in one transaction, as the signed-in user (like the API's Ctx)."""
        client = self.request.client.host if self.request.client else None
        try:
            return Ctx(self.platform, self.actor, client_ip=client).call(fn, **kwargs)
        except ServiceError as exc:
            raise PageError(exc.status_code, exc.description) from exc

    def build(self, schema: type[M], data: dict[str, Any]) -> M:
        """A request schema from form values; a 400 page (or form message) says what is wrong."""
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            raise PageError(400, describe_validation(exc.errors())) from exc

    @property
    def base_url(self) -> str:
        return str(self.request.base_url)

    @property
    def client_ip(self) -> str | None:
        return self.request.client.host if self.request.client else None

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return render(self.request, template, status_code=status_code, actor=self.actor, **context)

    def redirect(self, url: str) -> Response:
        """After a successful POST: 303 to `url` (htmx requests follow HX-Redirect)."""
        return redirect(self.request, url)

    @property
    def page_number(self) -> int:
        """The `?page=` of a list page (1 when absent or not a positive number)."""
        raw = self.request.query_params.get("page", "1")
        return max(1, int(raw)) if raw.isdigit() else 1

    def list_page(self, **kwargs: Any) -> PageParams:
        """List parameters for this page of a list page (LIST_SIZE rows)."""
        return page(number=self.page_number, limit=LIST_SIZE, **kwargs)

    def pager(self, *, total: int | None = None, shown: int = 0) -> Pager:
        """The pager under a list: from the service's total, or (lists that do not count) from
        whether this page came back full."""
        query = {k: v for k, v in self.request.query_params.items() if k != "page"}
        number = self.page_number
        if total is not None:
            pages = max(1, -(-total // LIST_SIZE))
            return Pager(number, number < pages, self.request.url.path, query, total, pages)
        return Pager(number, shown >= LIST_SIZE, self.request.url.path, query)


def page(
    number: int = 1, limit: int = 50, order: str = "updated_at", direction: str = "desc"
) -> PageParams:
    """List parameters for a service's list function."""
    return PageParams(limit=limit, page_num=max(1, number), order=order, order_dir=direction)


LIST_SIZE = 50  # rows per page of a list page


@dataclass(frozen=True)
class Pager:
    """Where a list page is: its number, and whether there are pages after it. `total` is known
    when the service counts (then `pages` too); otherwise a full page means there may be more."""

    number: int
    more: bool
    path: str
    query: dict[str, str]
    total: int | None = None
    pages: int | None = None

    def href(self, number: int) -> str:
        return f"{self.path}?{urlencode({**self.query, 'page': str(number)})}"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    state = browser_session(request)
    context.setdefault("actor", None)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "csrf_token": state.csrf,
            "prefix": PREFIX,
            "nav": NAV,
            "object_url": object_url,
            **context,
        },
        status_code=status_code,
    )
    persist(request, response)
    return response


def redirect(request: Request, url: str) -> Response:
    if request.headers.get("hx-request"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    return persist(request, response)


async def signed_in(request: Request) -> Web:
    """The dependency of every page but sign-in: the Web context, or a redirect to sign in."""
    actor = await session_actor(request)
    if actor is None:
        raise SignInRequired
    return Web(
        request=request,
        platform=request.app.state.platform,
        actor=actor,
        session=browser_session(request),
    )


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{PREFIX}/login?next={quote(target, safe='')}"


def safe_next(value: str | None) -> str:
    """Only local page paths are followed after sign-in (no open redirects)."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//"):
        return value
    return PREFIX + "/projects"

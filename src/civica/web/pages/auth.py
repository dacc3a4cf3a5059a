"""Sign in (username and password, or an API key) and sign out."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from civica.api.ratelimit import RateLimiter, TooManyRequests
from civica.db.models import ApiKeyRow, UserRow
from civica.platform import Platform
from civica.security import hash_password, verify_password
from civica.services import users
from civica.web.core import (
    COOKIE,
    PREFIX,
    SESSION_SECONDS,
    browser_session,
    page_router,
    redirect,
    render,
    safe_next,
    session_actor,
)

router = page_router()
NAV = None
# Sign-in attempts per client address and server process: bursts of 10, then 10 a minute.
SIGN_IN_PER_MINUTE = 10
WRONG = "The username or password is wrong, or the account is disabled."
# Checked against when the user is unknown, so an answer takes as long either way.
_DECOY = hash_password(secrets.token_urlsafe(16))


def _issue_session_key(
    platform: Platform, username: str, password: str, api_key: str
) -> tuple[int, str] | str:
    """A new session key for whoever these credentials prove to be, or why sign-in failed."""
    with platform.transaction() as session:
        if api_key:
            actor = users.authenticate(session=session, key=api_key)
            if actor is None:
                return "That API key is not valid: it is unknown, revoked or expired."
            user = session.get(UserRow, actor.user_id)
        else:
            user = session.scalar(select(UserRow).where(UserRow.username == username.strip()))
            stored = user.password_hash if user is not None else None
            matches = verify_password(password, stored or _DECOY)
            if user is None or not stored or not user.active or not matches:
                return WRONG
        assert user is not None
        row, key = users.issue_api_key(
            session=session,
            user=user,
            name="web session",
            expires_in=timedelta(seconds=SESSION_SECONDS),
        )
        return row.id, key


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if await session_actor(request) is not None:
        return redirect(request, safe_next(next))
    return render(request, "login.html", next=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    if not api_key.strip() and not (username.strip() and password):
        return render(
            request,
            "login.html",
            status_code=400,
            error="Enter your username and password, or an API key.",
            next=safe_next(next),
            username=username,
        )
    limiter: RateLimiter = request.app.state.sign_in_limiter
    try:
        limiter.check(request.client.host if request.client else "")
    except TooManyRequests as exc:
        return render(
            request,
            "login.html",
            status_code=429,
            error=f"Too many sign-in attempts from your address: try again in {exc.retry_after} s.",
            next=safe_next(next),
            username=username,
        )
    outcome = await run_in_threadpool(
        _issue_session_key, request.app.state.platform, username, password, api_key.strip()
    )
    if isinstance(outcome, str):
        return render(
            request,
            "login.html",
            status_code=401,
            error=outcome,
            next=safe_next(next),
            username=username,
        )
    state = browser_session(request)
    # A new CSRF token with the new session: a token seen before sign-in is worth nothing after.
    state.csrf = secrets.token_urlsafe(32)
    state.key_id, state.key = outcome
    state.expires = time.time() + SESSION_SECONDS
    state.dirty = True
    return redirect(request, safe_next(next))


def _revoke(platform: Platform, key_id: int, key: str) -> None:
    with platform.transaction() as session:
        row = session.get(ApiKeyRow, key_id)
        if row is not None and secrets.compare_digest(row.prefix, key[:6]):
            users.revoke_api_key(session=session, key_id=key_id)


@router.post("/logout")
async def logout(request: Request) -> Response:
    state = browser_session(request)
    if state.key and state.key_id:
        await run_in_threadpool(_revoke, request.app.state.platform, state.key_id, state.key)
        request.app.state.auth_cache.clear()
    state.dirty = False  # the cookie is deleted, not rewritten
    response = redirect(request, f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path="/")
    return response

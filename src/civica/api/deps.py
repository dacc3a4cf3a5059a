"""Request dependencies: the platform, the authenticated actor, and a per-request context."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from threading import Lock
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from civica.api.ratelimit import RateLimiter
from civica.platform import Platform
from civica.security import hash_api_key
from civica.services import users
from civica.services.actor import Actor
from civica.services.errors import Unauthorized

log = logging.getLogger("civica.api")

T = TypeVar("T")


class AuthCache:
    """Verified keys for a short while, so a burst of calls costs one lookup (revocation is seen
    within `ttl` seconds by every process)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Actor]] = {}
        self._lock = Lock()
        # Look-ups in flight, so that the calls arriving while a key is (re)checked wait for
        # that one check instead of each starting its own (a burst when an entry expires).
        self._pending: dict[
            str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Actor | None]]
        ] = {}

    def get(self, digest: str) -> Actor | None:
        hit = self._entries.get(digest)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, digest: str, actor: Actor) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self.ttl, actor)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._pending.clear()

    async def load(self, digest: str, check: Callable[[], Awaitable[Actor | None]]) -> Actor | None:
        """Run `check` for a key not in the cache, or wait for the run already in flight for
        it; a found actor is cached."""
        loop = asyncio.get_running_loop()
        pending = self._pending.get(digest)
        if pending is None or pending[0] is not loop or self.ttl <= 0:
            future: asyncio.Future[Actor | None] = asyncio.ensure_future(check())
            pending = self._pending[digest] = (loop, future)
            future.add_done_callback(lambda _: self._forget(digest, future))
        # Shielded: a caller that goes away does not cancel the check the others wait for.
        actor = await asyncio.shield(pending[1])
        if actor is not None:
            self.put(digest, actor)
        return actor

    def _forget(self, digest: str, future: asyncio.Future[Actor | None]) -> None:
        if self._pending.get(digest, (None, None))[1] is future:
            del self._pending[digest]


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def api_key_from_header(value: str | None) -> str | None:
    """The API key in an `Authorization` header: Basic with the key as username, or Bearer."""
    if not value:
        return None
    scheme, _, rest = value.partition(" ")
    scheme = scheme.lower()
    rest = rest.strip()
    if scheme == "bearer":
        return rest or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, _, password = decoded.partition(":")
        # Key as username with an empty password (the civis client); accept it as password too.
        return username or password or None
    return None


async def current_actor(request: Request) -> Actor:
    platform: Platform = request.app.state.platform
    key = api_key_from_header(request.headers.get("authorization"))
    if key is None:
        raise Unauthorized(
            "an API key is required: send it as HTTP Basic username (empty password) "
            "or as a Bearer token"
        )
    cache: AuthCache = request.app.state.auth_cache
    digest = hash_api_key(key)
    actor = cache.get(digest)
    if actor is None:
        actor = await cache.load(digest, lambda: run_in_threadpool(_authenticate, platform, key))
        if actor is None:
            raise Unauthorized("the API key is not valid: it is unknown, revoked or expired")
    request.state.actor = actor  # for the audit trail (civica.api.audit)
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(digest)
    return actor


def _authenticate(platform: Platform, key: str) -> Actor | None:
    try:
        with platform.transaction() as session:
            return users.authenticate(session=session, key=key)
    except OperationalError:
        # Recording the last use failed (a full disk, a database gone read-only): the key is
        # still checked, without the bookkeeping, so reads keep working.
        log.warning("could not record an API key's last use; authenticating without it")
        with platform.transaction() as session:
            return users.authenticate(session=session, key=key, touch=False)


@dataclass(frozen=True)
class Ctx:
    """What a route needs: the platform and who is calling. `call` runs one service function in
    one transaction, passing `session`, `actor` and `platform` by keyword."""

    platform: Platform
    actor: Actor
    # The caller's address, for services that check database whitelists (`client_ip`).
    client_ip: str | None = None

    def call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        with self.platform.transaction() as session:
            wants = _wants(fn)
            if "platform" in wants:
                kwargs["platform"] = self.platform
            if "client_ip" in wants:
                kwargs.setdefault("client_ip", self.client_ip)
            return fn(session=session, actor=self.actor, **kwargs)


@functools.cache
def _wants(fn: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(fn).parameters) & {"platform", "client_ip"}


async def get_ctx(request: Request) -> Ctx:
    actor = await current_actor(request)
    client = request.client.host if request.client else None
    return Ctx(platform=request.app.state.platform, actor=actor, client_ip=client)


CtxDep = Annotated[Ctx, Depends(get_ctx)]

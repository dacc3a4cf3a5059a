"""Route class and matching: endpoints marked `@inline` run on the event loop instead of the
thread pool, and the app's routes are matched by the path's first segment (`SegmentDispatch`).

A thread-pool hop costs more than a metadata read on this stack, so short reads of the metadata
store (which never wait on locks: SQLite WAL readers and PostgreSQL MVCC reads do not block) run
inline. Anything that may wait (writes, remote databases, files, subprocesses) stays a plain
`def` route and runs in the thread pool.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi.routing import APIRoute, APIRouter
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])


def leaf_routes(router: APIRouter) -> Iterator[BaseRoute]:
    """Every route of `router`, with included routers flattened. The app mounts these directly:
    matching through layers of included routers costs more than the rest of a short request."""
    for route in router.routes:
        nested = getattr(route, "original_router", None)
        if isinstance(nested, APIRouter):
            yield from leaf_routes(nested)
        else:
            yield route


def inline(fn: F) -> F:
    """Mark a sync endpoint as a short metadata read, safe to run on the event loop."""
    fn.__civica_inline__ = True  # type: ignore[attr-defined]
    return fn


class CivicaRoute(APIRoute):
    """Every endpoint becomes a coroutine for FastAPI: `@inline` ones run on the event loop, other
    plain functions in the thread pool as before, but called from here. FastAPI validates the
    answer of a plain `def` endpoint in a second thread-pool hop; of a coroutine, on the loop
    (validating models built by the service is short), so each call saves a hop."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if _plain_function(endpoint):
            sync = endpoint
            if getattr(sync, "__civica_inline__", False):

                @functools.wraps(sync)
                async def endpoint(*args: Any, **kw: Any) -> Any:
                    return sync(*args, **kw)

            else:

                @functools.wraps(sync)
                async def endpoint(*args: Any, **kw: Any) -> Any:
                    return await run_in_threadpool(sync, *args, **kw)

        super().__init__(path, endpoint, **kwargs)


def _plain_function(fn: Callable[..., Any]) -> bool:
    """A plain `def` (not a coroutine or generator function, which FastAPI treats otherwise)."""
    return (
        inspect.isfunction(fn)
        and not inspect.iscoroutinefunction(fn)
        and not inspect.isgeneratorfunction(fn)
        and not inspect.isasyncgenfunction(fn)
    )


_ANY = object()  # a route whose first path segment is not fixed: a candidate for every path


def _first_segment(route: BaseRoute) -> object:
    path = getattr(route, "path", None)
    if not isinstance(route, Route | WebSocketRoute | Mount) or not isinstance(path, str):
        return _ANY
    if not path.startswith("/"):
        return _ANY
    segment = path[1:].split("/", 1)[0]
    if "{" in segment or (isinstance(route, Mount) and not segment):
        return _ANY
    return segment


class SegmentDispatch:
    """The router's matching, narrowed by the path's first segment.

    Starlette tries every route in order until one matches; with hundreds of routes that costs
    more than a short request itself (about a microsecond a route). This stands in for the
    router's `middleware_stack`: for each first segment (`credentials`, `ui`, ...) it keeps a
    copy of the router holding only the routes that could match it (that segment, or a
    parameter there), in their original order, and lets that copy match as the router would. A
    route of another first segment cannot match, so the route chosen, and any 404 or 405, are
    the same as a full scan's. The table is rebuilt when the router's routes change.
    """

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._built_for: tuple[int, int] | None = None
        self._by_segment: dict[str, APIRouter] = {}
        self._rest: APIRouter = router

    def _build(self) -> None:
        routes = self.router.routes
        segments = [_first_segment(r) for r in routes]
        named = {s for s in segments if isinstance(s, str)}
        self._by_segment = {
            name: self._subset(
                [r for r, s in zip(routes, segments, strict=True) if s in (name, _ANY)]
            )
            for name in named
        }
        self._rest = self._subset([r for r, s in zip(routes, segments, strict=True) if s is _ANY])
        self._built_for = (id(routes), len(routes))

    def _subset(self, routes: list[BaseRoute]) -> APIRouter:
        subset = copy.copy(self.router)
        subset.routes = routes
        return subset

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router.app(scope, receive, send)
            return
        routes = self.router.routes
        if self._built_for != (id(routes), len(routes)):
            self._build()
        path = get_route_path(scope)  # what each route matches against
        if path.startswith("/"):
            subset = self._by_segment.get(path[1:].split("/", 1)[0], self._rest)
        else:
            subset = self.router
        scope.setdefault("router", self.router)  # url_for needs every route, not the subset
        await subset.app(scope, receive, send)

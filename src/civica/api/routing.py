"""Route class: endpoints marked `@inline` run on the event loop instead of the thread pool.

A thread-pool hop costs more than a metadata read on this stack, so short reads of the metadata
store (which never wait on locks: SQLite WAL readers and PostgreSQL MVCC reads do not block) run
inline. Anything that may wait (writes, remote databases, files, subprocesses) stays a plain
`def` route and runs in the thread pool.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute

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
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if getattr(endpoint, "__civica_inline__", False):
            sync = endpoint

            @functools.wraps(sync)
            async def endpoint(*args: Any, **kw: Any) -> Any:
                return sync(*args, **kw)

        super().__init__(path, endpoint, **kwargs)

"""Records every state-changing API call in the audit trail, after it has been answered.

Pure ASGI, inside the wire middleware (so it sees normalised paths): for POST, PUT, PATCH and
DELETE it notes the status, the route that matched, the object (the `{id}` in the path or, for a
create, the `id` of the answer) and the caller (`current_actor` leaves it in the request state),
then writes one row once the response is sent. A failed write is logged, never turned into an
error: the call itself has already happened.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civica.platform import Platform
from civica.services import audit
from civica.services.actor import Actor

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ID = re.compile(rb'"id"\s*:\s*(\d{1,19})')
_PARAM = re.compile(r"\{(\w+)")
_HEAD_BYTES = 4096


class AuditMiddleware:
    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        status = 500
        head = b""

        async def watch(message: Message) -> None:
            nonlocal status, head
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(head) < _HEAD_BYTES:
                head += bytes(message.get("body", b""))[: _HEAD_BYTES - len(head)]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            event = _event(scope, status, head)
            if event is not None:
                await run_in_threadpool(self._write, event)

    def _write(self, event: audit.Event) -> None:
        try:
            with self.platform.transaction() as session:
                audit.record(session, event)
        except Exception:
            log.exception("could not record an audit event for %s %s", event.method, event.path)


def _event(scope: Scope, status: int, head: bytes) -> audit.Event | None:
    route: Any = scope.get("route")
    template = getattr(route, "path", None)
    if template is None:
        return None  # no operation matched (404/405 on an unknown path): nothing was acted on
    actor = scope["state"].get("actor")
    actor = actor if isinstance(actor, Actor) else None
    params = scope.get("path_params") or {}
    # The object is the route's first path parameter (`/projects/{project_id}`,
    # `/scripts/python3/{id}/runs/{run_id}`); a create's comes back in the answer.
    first = _PARAM.search(template)
    object_id = _int(params.get(first.group(1))) if first else None
    if object_id is None and 200 <= status < 300 and "{" not in template:
        found = _ID.search(head)
        object_id = _int(found.group(1).decode()) if found else None
    client = scope.get("client")
    return audit.Event(
        user_id=actor.user_id if actor else None,
        username=actor.username if actor else None,
        method=scope["method"],
        route=template,
        path=scope["path"],
        object_type=template.split("/{", 1)[0].strip("/") or None,
        object_id=object_id,
        status=status,
        client_ip=client[0] if client else None,
    )


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None

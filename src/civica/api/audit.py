"""Records every state-changing API call in the audit trail, after it has been answered.

Pure ASGI, inside the wire middleware (so it sees normalised paths): for POST, PUT, PATCH and
DELETE it notes the status, the route that matched, the object (the `{id}` in the path or, for a
create, the `id` of the answer) and the caller (`current_actor` leaves it in the request state),
then hands the row to a writer once the response is sent. A failed write is logged, never turned
into an error: the call itself has already happened.

One writer thread per app writes the rows in the order the calls were answered (so a client's
consecutive calls are numbered in the order it made them), in one transaction for all the rows
waiting; the request itself no longer waits for a thread. It stops when idle and starts again with
the next row; the app's shutdown waits for the rows still waiting (`AuditWriter.drain`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civica.platform import Platform
from civica.services import audit
from civica.services.actor import Actor

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ID = re.compile(rb'"id"\s*:\s*(\d{1,19})')
_PARAM = re.compile(r"\{(\w+)")
_HEAD_BYTES = 4096


class AuditWriter:
    """Writes audit rows in the order they are handed in, from one thread, batching those that
    wait. `submit` never blocks on the database."""

    IDLE_SECONDS = 2.0

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._waiting: list[audit.Event] = []
        self._writing = False  # a batch is being written
        self._running = False  # the thread is alive
        self._cond = threading.Condition()

    def submit(self, event: audit.Event) -> None:
        with self._cond:
            self._waiting.append(event)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="civica-audit", daemon=True).start()
            self._cond.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every row handed in is written (or has failed); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._writing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                idle_until = time.monotonic() + self.IDLE_SECONDS
                while not self._waiting:
                    left = idle_until - time.monotonic()
                    if left <= 0:
                        self._running = False
                        return
                    self._cond.wait(left)
                batch, self._waiting = self._waiting, []
                self._writing = True
            try:
                self._write(batch)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()

    def _write(self, batch: list[audit.Event]) -> None:
        try:
            with self.platform.engine.begin() as connection:
                for event in batch:
                    audit.record_on(connection, event)
        except Exception as exc:
            if len(batch) == 1:
                _log_failure(batch[0], exc)
                return
            for event in batch:  # the batch failed as a whole: keep every row that can be kept
                self._write([event])


def _log_failure(event: audit.Event, exc: Exception) -> None:
    if isinstance(exc, OperationalError):  # the database is full or down: the log keeps it
        log.error("could not record an audit event (%s): %r", exc.orig, event)
    else:
        log.error(
            "could not record an audit event for %s %s", event.method, event.path, exc_info=exc
        )


class AuditMiddleware:
    def __init__(self, app: ASGIApp, writer: AuditWriter) -> None:
        self.app = app
        self.writer = writer

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
                self.writer.submit(event)  # in answer order, before the next call can start


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

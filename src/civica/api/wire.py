"""Wire conventions shared by every route (see docs/wire.md and the wire contract).

- paths: `//` collapsed and trailing `/` ignored; `key[]=v` query parameters read as `key=v`;
- bodies: oversized ones refused with 413 before they are read;
- errors: JSON `{"error", "errorDescription", "code"}` for every failure, never a bare 500 page;
- lists: `limit`, `page_num`, `order`, `order_dir`, `[]` past the end, `X-Pagination-*` headers.
"""

from __future__ import annotations

import errno
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic.alias_generators import to_snake
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civica.api.ratelimit import TooManyRequests
from civica.db.engine import database_full
from civica.schemas.common import Error
from civica.services.errors import BadRequest, ServiceError
from civica.services.paging import Page, PageParams

log = logging.getLogger("civica.api")

_SLASHES = re.compile(r"/{2,}")


class WireMiddleware:
    """Normalises paths and query strings and bounds request bodies (pure ASGI, no buffering)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if "//" in path or (len(path) > 1 and path.endswith("/")):
            path = _SLASHES.sub("/", path)
            if len(path) > 1:
                path = path.rstrip("/") or "/"
            scope = dict(scope, path=path, raw_path=path.encode())
        qs: bytes = scope.get("query_string", b"")
        if b"%00" in qs or b"\x00" in qs:
            await _send_json(
                send, 400, error_body(400, "query parameters cannot contain NUL characters")
            )
            return
        if b"%5B%5D" in qs or b"[]" in qs:
            pairs = parse_qsl(qs.decode("latin-1"), keep_blank_values=True)
            fixed = [(k[:-2] if k.endswith("[]") else k, v) for k, v in pairs]
            scope = dict(scope, query_string=urlencode(fixed).encode("latin-1"))
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            for name, value in scope.get("headers", []):
                if name == b"content-length":
                    try:
                        size = int(value)
                    except ValueError:
                        size = 0
                    if size > self.max_body_bytes:
                        await _send_json(send, 413, _too_large(self.max_body_bytes))
                        return
            receive = _bounded(receive, self.max_body_bytes, send)
        await self.app(scope, receive, send)


def _too_large(limit: int) -> dict[str, Any]:
    return error_body(
        413,
        f"request body is larger than the {limit} bytes allowed; send less data per request "
        "(upload large data as a file instead)",
    )


class _BodyTooLarge(Exception):
    pass


def _bounded(receive: Receive, limit: int, send: Send) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge
        return message

    return wrapped


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def error_body(status: int, description: str) -> dict[str, Any]:
    return {
        "error": _ERROR_NAMES.get(status, "error"),
        "errorDescription": description,
        "code": status,
    }


def error_response(
    status: int, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, description), status_code=status, headers=headers)


def _loc_name(loc: Sequence[Any]) -> str:
    """`body.remoteHost.url` -> `remote_host.url`: callers may use either casing; name it as the
    seed does."""
    parts = [to_snake(str(p)) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


# Fields whose values are never repeated back (in error messages, and so in logs).
_SECRET_WORDS = ("password", "secret", "token", "api_key", "private_key")


def _is_secret(field: str) -> bool:
    last = field.rsplit(".", 1)[-1].lower()
    return any(word in last for word in _SECRET_WORDS)


def describe_validation(errors: Sequence[Any]) -> str:
    """One sentence per problem, naming the field and what would fix it (never the value of a
    secret field such as a password)."""
    msgs: list[str] = []
    for err in errors[:10]:
        loc = err.get("loc", ())
        field = _loc_name(loc)
        kind = err.get("type", "")
        if kind == "missing":
            msgs.append(f"{field} is required")
        elif kind == "extra_forbidden":
            msgs.append(f"{field} is not a known field; check its spelling against the API spec")
        elif kind == "json_invalid":
            msgs.append(f"the body is not valid JSON ({err.get('ctx', {}).get('error', '')})")
        elif kind in ("model_attributes_type", "dict_type") and field == "body":
            msgs.append("the body must be a JSON object")
        elif kind == "value_error" and isinstance(err.get("input"), dict | list):
            # A check of a whole object: its message names the field itself.
            msgs.append(str(err.get("msg", "is invalid")).removeprefix("Value error, "))
        else:
            msg = err.get("msg", "is invalid")
            got = err.get("input")
            if _is_secret(field):
                msgs.append(f"{field}: {msg} (value not shown: it is a secret)")
                continue
            shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
            if len(shown) > 60:
                shown = shown[:57] + "..."
            msgs.append(f"{field}: {msg} (got {shown})")
    if len(errors) > 10:
        msgs.append(f"and {len(errors) - 10} more problems")
    return "; ".join(msgs)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="civica"'} if exc.status_code == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(exc.status_code, exc.description, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, describe_validation(exc.errors()))

    # Starlette's class: the router and FastAPI's body parsing raise it, not FastAPI's subclass.
    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        description = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 400 and description == "There was an error parsing the body":
            description = "the body could not be read: send JSON encoded as UTF-8"
        elif exc.status_code == 404 and description == "Not Found":
            description = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            description = f"{request.method} is not allowed on {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers.setdefault("WWW-Authenticate", 'Basic realm="civica"')
        return error_response(exc.status_code, description, headers or None)

    @app.exception_handler(_BodyTooLarge)
    async def _too_large_error(_request: Request, _exc: _BodyTooLarge) -> JSONResponse:
        limit = getattr(app.state, "max_body_bytes", 0)
        return JSONResponse(_too_large(limit), status_code=413)

    @app.exception_handler(OverflowError)
    async def _overflow(_request: Request, _exc: OverflowError) -> JSONResponse:
        return error_response(400, "a number in the request is too large; ids are 64-bit")

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the request carried (PostgreSQL: a number out of range,
        # text it cannot hold); SQLite's counterpart is the OverflowError above. The SQL and its
        # parameters stay out of the log and the answer.
        log.warning(
            "the database refused a value on %s %s: %s",
            request.method,
            request.url.path,
            type(exc.orig).__name__,
        )
        return error_response(
            400,
            "a value in the request cannot be stored: a number is out of range (ids are 64-bit "
            "integers) or a text is not valid for the database",
        )

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
        # The metadata database could not do its part: out of disk, unreachable, or busy.
        # Nothing was committed; the caller can try again once the cause is gone.
        log.warning(
            "the metadata database failed on %s %s: %s",
            request.method,
            request.url.path,
            str(exc.orig).strip(),
        )
        if database_full(exc):
            return error_response(
                507,
                "the server's metadata database is full: nothing was saved; ask the "
                "administrator to free disk space, then try again",
            )
        return error_response(
            503,
            "the server's metadata database is unavailable or busy: nothing was saved; "
            "try again in a moment",
            {"Retry-After": "5"},
        )

    @app.exception_handler(OSError)
    async def _disk_full(request: Request, exc: OSError) -> JSONResponse:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            return await _unexpected(request, exc)
        log.warning("the disk is full on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            507,
            "the server's disk is full: nothing was saved; ask the administrator to free disk "
            "space, then try again",
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            500,
            "the server hit an unexpected error; it has been logged. "
            "Try again, and report it if it keeps happening.",
        )


# The failures any route can answer with, documented once for every operation of the OpenAPI
# document (validation problems are 400 here, never FastAPI's 422).
ERROR_RESPONSES: dict[str, str] = {
    "400": "Bad request: a parameter or the body is invalid; errorDescription names the field.",
    "401": "No API key, or one that is unknown, revoked or expired.",
    "403": "The caller can see the object but lacks the permission this needs.",
    "404": "No such object, or one the caller cannot see.",
    "409": "The request conflicts with the current state, e.g. a name already taken.",
    "413": "The request body is larger than the server accepts.",
    "503": "A service the server relies on (its metadata database, its file store) is "
    "unavailable; nothing was saved. Try again later.",
    "507": "The server's storage is full; nothing was saved.",
}
_WITH_BODY = {"post", "put", "patch", "delete"}  # 413 only where a body can be sent
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def document_errors(app: FastAPI) -> None:
    """Make `app.openapi()` document the JSON error body for every operation (and drop the 422
    FastAPI adds, which this API never sends: validation problems are 400s)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = Error.model_json_schema(
            by_alias=True, mode="serialization", ref_template="#/components/schemas/{model}"
        )
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for item in schema.get("paths", {}).values():
            for verb, op in item.items():
                responses = op.setdefault("responses", {})
                responses.pop("422", None)
                for code, description in ERROR_RESPONSES.items():
                    if code == "413" and verb not in _WITH_BODY:
                        continue
                    responses.setdefault(code, {"description": description, "content": content})
        for name in _FASTAPI_VALIDATION:
            rest = {k: v for k, v in schemas.items() if k not in _FASTAPI_VALIDATION}
            if f'/{name}"' not in json.dumps([schema["paths"], rest]):
                schemas.pop(name, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def pagination(
    orders: Sequence[str],
    default_order: str = "updated_at",
    default_limit: int = 20,
    max_limit: int = 1000,
) -> Callable[..., Awaitable[PageParams]]:
    """A dependency reading `limit`, `page_num`, `order` and `order_dir` for one list route."""
    order_list = ", ".join(orders)

    # Async although it awaits nothing: FastAPI runs a plain `def` dependency in the thread pool,
    # and that hop costs more than a list's query.
    async def dependency(
        limit: int | None = Query(
            None,
            description=f"Number of results to return. Defaults to {default_limit}. "
            f"Maximum allowed is {max_limit}.",
        ),
        page_num: int | None = Query(
            None, description="Page number of the results to return. Defaults to the first page, 1."
        ),
        order: str | None = Query(
            None,
            description=f"The field on which to order the result set. Defaults to {default_order}. "
            f"Must be one of: {order_list}.",
        ),
        order_dir: str | None = Query(
            None,
            description="Direction in which to sort, either asc (ascending) or desc (descending) "
            "defaulting to desc.",
        ),
    ) -> PageParams:
        lim = default_limit if limit is None else limit
        if lim < 1 or lim > max_limit:
            raise BadRequest(f"limit must be between 1 and {max_limit}; got {lim}")
        page = 1 if page_num is None else page_num
        if page < 1:
            raise BadRequest(f"page_num must be 1 or more; got {page}")
        field = default_order if order is None else order
        if field not in orders:
            raise BadRequest(f"order must be one of: {order_list}; got {field!r}")
        direction = "desc" if order_dir is None else order_dir.lower()
        if direction not in ("asc", "desc"):
            raise BadRequest(f"order_dir must be asc or desc; got {order_dir!r}")
        return PageParams(limit=lim, page_num=page, order=field, order_dir=direction)

    return dependency


__all__ = ["Page", "PageParams", "pagination"]

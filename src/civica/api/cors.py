"""Cross-origin calls to the API, for report pages and other browser code holding an API key.

Report pages run sandboxed in an opaque origin (`Origin: null`), so their calls to the API with a
granted key are cross-origin. The API authenticates by the `Authorization` header only, never by
cookie, so any origin may call it: the answer carries `Access-Control-Allow-Origin: *` and never
`Allow-Credentials`. The web UI (`/ui`, cookie sessions) gets no CORS headers at all.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXPOSED = [
    "X-Pagination-Total-Entries",
    "X-Pagination-Per-Page",
    "X-Pagination-Current-Page",
    "X-Pagination-Total-Pages",
    "Civis-Max-Id",
    "Civis-Cache-Control",
    "Retry-After",
]


class ApiCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            expose_headers=EXPOSED,
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path == "/ui" or path.startswith("/ui/"):
            await self.app(scope, receive, send)
            return
        for name, _value in scope["headers"]:
            if name == b"origin":
                await self.cors(scope, receive, send)
                return
        # No Origin: not a cross-origin call, so the answer only says that it varies by Origin
        # (as Starlette's middleware would), without that middleware's per-request header work.
        await self.app(scope, receive, _vary_origin(send))


def _vary_origin(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            vary = [v for k, v in headers if k.lower() == b"vary"]
            if vary:
                headers = [(k, v) for k, v in headers if k.lower() != b"vary"]
                # Starlette's own way of adding a value: one header, joined with ", ".
                vary.append(b"Origin")
                headers.append((b"vary", b", ".join(vary)))
            else:
                headers.append((b"vary", b"Origin"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped

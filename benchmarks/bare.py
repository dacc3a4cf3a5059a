"""The peer for API benchmarks: a bare Starlette JSON endpoint, served the same way as civica."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

OBJECT = {
    "id": 1,
    "name": "warehouse",
    "type": "Database",
    "username": "analyst",
    "description": None,
    "owner": "Administrator",
    "remoteHostId": 1,
    "remoteHostName": "civica",
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:00Z",
}


async def one(_request: Request) -> JSONResponse:
    return JSONResponse(OBJECT)


app = Starlette(routes=[Route("/object", one)])

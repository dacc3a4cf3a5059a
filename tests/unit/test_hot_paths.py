"""The request hot path's shortcuts give what the long way gives: route matching by first path
segment, model construction from stored values, one key check shared by a burst of calls, and
audit rows written in order by one writer."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, select
from starlette.routing import BaseRoute, Match

from civica.api.app import create_app
from civica.api.audit import AuditWriter
from civica.api.deps import AuthCache
from civica.api.routing import SegmentDispatch
from civica.bootstrap import prepare
from civica.db.models import AuditEventRow
from civica.platform import Platform
from civica.schemas.common import UserBlock
from civica.schemas.credentials import Credential
from civica.services import audit
from civica.services.actor import Actor
from civica.services.construct import construct
from civica.settings import Settings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data: Path = tmp_path_factory.mktemp("hot-paths")
    platform = Platform.open(Settings(data_dir=data, workers=0, scheduler=False))
    prepare(platform)
    yield create_app(platform)
    platform.close()


def _first_match(routes: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    """What Starlette's router picks: the first full match, else the first partial one."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
        if match == Match.PARTIAL and partial is None:
            partial = route
    return partial


def _paths(app: FastAPI) -> set[str]:
    """A path for every route template (parameters filled in), and some that match nothing."""
    out = {"/", "/nope", "/nope/7", "/ui", "/ui/static/x.css", "/credentials/", "/7", "/7/7"}
    for route in app.router.routes:
        template = getattr(route, "path", None)
        if isinstance(template, str):
            out.add(re.sub(r"\{[^}:]+:path\}", "a/b", re.sub(r"\{[^}:]+\}", "7", template)))
            out.add(re.sub(r"\{[^}]+\}", "x", template))  # a non-integer id
    return out


def test_segment_dispatch_picks_the_route_a_full_scan_picks(app: FastAPI) -> None:
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, SegmentDispatch)
    dispatch._build()
    routes = list(app.router.routes)
    checked = 0
    for path in sorted(_paths(app)):
        segment = path[1:].split("/", 1)[0]
        subset = dispatch._by_segment.get(segment, dispatch._rest).routes
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            assert _first_match(subset, method, path) is _first_match(routes, method, path), (
                method,
                path,
            )
            checked += 1
    assert checked > 1000


def test_segment_dispatch_follows_added_routes(app: FastAPI) -> None:
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, SegmentDispatch)

    @app.get("/hot-paths-probe")
    def probe() -> dict[str, bool]:
        return {"ok": True}

    try:
        scope = {"type": "http", "method": "GET", "path": "/hot-paths-probe", "root_path": ""}
        received: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            received.append(message)

        asyncio.run(app(scope | {"headers": [], "query_string": b""}, receive, send))  # type: ignore[arg-type]
        assert received[0]["status"] == 200
    finally:
        app.router.routes.pop()


def test_construct_is_model_construct() -> None:
    now = datetime.now(UTC)
    user = construct(
        UserBlock, {"id": 1, "name": "A", "username": "a", "initials": "A", "online": False}
    )
    values = {
        "id": 3,
        "name": "c",
        "type": "Custom",
        "username": "u",
        "description": None,
        "owner": "a",
        "user": user,
        "remote_host_id": None,
        "remote_host_name": None,
        "created_at": now,
        "updated_at": now,
        "default": False,
    }
    fast = construct(Credential, dict(values))
    slow = Credential.model_construct(**values)
    assert fast == slow
    assert fast.model_dump_json(by_alias=True) == slow.model_dump_json(by_alias=True)
    assert fast.model_fields_set == slow.model_fields_set
    # Not every field given: model_construct's own way (defaults, fields set).
    partial = {k: v for k, v in values.items() if k != "description"}
    assert construct(Credential, partial) == Credential.model_construct(**partial)


def test_a_burst_of_calls_shares_one_key_check() -> None:
    actor = Actor(user_id=1, username="a", name="A")
    calls = 0

    async def check() -> Actor | None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return actor

    async def burst(cache: AuthCache) -> list[Actor | None]:
        return await asyncio.gather(*(cache.load("digest", check) for _ in range(20)))

    cache = AuthCache(ttl=60)
    assert asyncio.run(burst(cache)) == [actor] * 20
    assert calls == 1
    assert cache.get("digest") == actor
    # With no caching asked for, every call checks the key itself.
    calls = 0
    assert asyncio.run(burst(AuthCache(ttl=0))) == [actor] * 20
    assert calls == 20


def test_a_failed_key_check_fails_every_waiting_call_and_is_forgotten() -> None:
    async def check() -> Actor | None:
        await asyncio.sleep(0.01)
        raise RuntimeError("store down")

    async def burst(cache: AuthCache) -> list[object]:
        return await asyncio.gather(
            *(cache.load("digest", check) for _ in range(5)), return_exceptions=True
        )

    cache = AuthCache(ttl=60)
    results = asyncio.run(burst(cache))
    assert all(isinstance(r, RuntimeError) for r in results)
    assert cache.get("digest") is None
    assert not cache._pending


def _event(n: int) -> audit.Event:
    return audit.Event(
        user_id=None,
        username=f"u{n}",
        method="POST",
        route="/projects",
        path="/projects",
        object_type="projects",
        object_id=n,
        status=200,
        client_ip=None,
    )


def test_audit_rows_are_written_in_the_order_handed_in(tmp_path: Path) -> None:
    platform = Platform.open(Settings(data_dir=tmp_path, workers=0, scheduler=False))
    prepare(platform)
    try:
        writer = AuditWriter(platform)
        for n in range(1, 201):
            writer.submit(_event(n))
        assert writer.drain()
        with platform.transaction() as session:
            ids = session.scalars(select(AuditEventRow.object_id).order_by(AuditEventRow.id))
            assert list(ids) == list(range(1, 201))
    finally:
        platform.close()


def test_an_audit_row_that_cannot_be_written_is_logged_and_the_others_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    platform = Platform.open(Settings(data_dir=tmp_path, workers=0, scheduler=False))
    prepare(platform)
    record_on = audit.record_on

    def refuse_13(connection: Connection, event: audit.Event) -> None:
        if event.object_id == 13:
            raise ValueError("refused")
        record_on(connection, event)

    monkeypatch.setattr(audit, "record_on", refuse_13)
    try:
        writer = AuditWriter(platform)
        with caplog.at_level(logging.ERROR, logger="civica.api.audit"):
            for n in range(1, 21):
                writer.submit(_event(n))
            assert writer.drain()
        with platform.transaction() as session:
            ids = session.scalars(select(AuditEventRow.object_id).order_by(AuditEventRow.id))
            assert list(ids) == [n for n in range(1, 21) if n != 13]
        assert "could not record an audit event for POST /projects" in caplog.text
    finally:
        platform.close()

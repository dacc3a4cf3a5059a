"""Shared fixtures: a fresh metadata database per test (SQLite always, PostgreSQL when
CIVICA_TEST_POSTGRES_URL is set), the platform on it, and a real server on a free port."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from civica.api.app import create_app
from civica.bootstrap import prepare
from civica.db.engine import normalise_url
from civica.db.migrate import upgrade
from civica.platform import Platform
from civica.services import users
from civica.settings import Settings

ADMIN_KEY = "civica-test-admin-key-000000000000"
PG_ENV = "CIVICA_TEST_POSTGRES_URL"
_pg_template: str | None = None
_pg_skip_reported = False


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get(PG_ENV):
        return f"metadata stores: SQLite and PostgreSQL ({PG_ENV} is set)"
    return (
        f"metadata stores: SQLite only. PostgreSQL variants are SKIPPED because {PG_ENV} is "
        "not set (e.g. postgresql://postgres@127.0.0.1:5432/postgres)"
    )


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")


def _pg_template_db(base_url: str) -> str:
    """A migrated template database, made once per test session; each test copies it."""
    global _pg_template
    if _pg_template is None:
        name = f"civica_tpl_{uuid.uuid4().hex[:10]}"
        eng = _admin_engine(base_url)
        with eng.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        eng.dispose()
        url = make_url(normalise_url(base_url)).set(database=name)
        from civica.db.engine import make_engine

        engine = make_engine(url.render_as_string(hide_password=False))
        upgrade(engine)
        engine.dispose()
        _pg_template = name
    return _pg_template


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    base = os.environ.get(PG_ENV)
    if base and _pg_template:
        eng = _admin_engine(base)
        with eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{_pg_template}" WITH (FORCE)'))
        eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty metadata database for one test."""
    only = request.node.get_closest_marker("sqlite_only")
    if only is not None and request.param == "postgresql":
        pytest.skip(f"SQLite only: {only.args[0] if only.args else 'store-independent'}")
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'civica.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL variant skipped: set {PG_ENV} to run it")
    template = _pg_template_db(base)
    name = f"civica_t_{uuid.uuid4().hex[:12]}"
    eng = _admin_engine(base)
    with eng.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(normalise_url(base)).set(database=name).render_as_string(hide_password=False)
    with eng.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=metadata_url,
        admin_api_key=ADMIN_KEY,
        auth_cache_seconds=0,
        # Harnesses (fuzzing, the permission matrix) fire bursts with one key; the limit has its
        # own tests (tests/integration/test_rate_limit.py).
        rate_limit_per_minute=0,
    )


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    plat = Platform.open(settings)
    prepare(plat)
    yield plat
    plat.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    platform: Platform
    admin_key: str

    def client(self, key: str | None = None) -> httpx.Client:
        auth = (key, "") if key else None
        return httpx.Client(base_url=self.url, auth=auth, timeout=30)

    def new_user(self, username: str | None = None, *, admin: bool = False) -> tuple[int, str]:
        """Create a user straight in the store; returns (id, api key)."""
        with self.platform.transaction() as session:
            row = users.create_user(
                session=session,
                username=username or f"u{uuid.uuid4().hex[:8]}",
                is_admin=admin,
                secrets=self.platform.secrets,
            )
            _, key = users.issue_api_key(session=session, user=row)
            return row.id, key

    def new_group(self, name: str, members: list[str]) -> int:
        with self.platform.transaction() as session:
            group = users.create_group(session=session, name=name)
            for username in members:
                users.add_member(
                    session=session,
                    group=group,
                    user=users.get_user_by_name(session=session, username=username),
                )
            return group.id


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own handlers
        pass


@pytest.fixture
def live(platform: Platform) -> Iterator[LiveServer]:
    """The real app served by uvicorn over TCP on a free port, in a background thread."""
    port = free_port()
    config = uvicorn.Config(
        create_app(platform), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    yield LiveServer(url=f"http://127.0.0.1:{port}", platform=platform, admin_key=ADMIN_KEY)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client(live.admin_key) as c:
        yield c

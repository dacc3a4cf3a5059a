"""Shared fixtures: a fresh metadata database per test (SQLite always, PostgreSQL when
CIVICA_TEST_POSTGRES_URL is set), the platform on it, and a real server on a free port.

What makes this cheap without sharing state between tests:
- each test gets its own database, a copy of a template migrated once per test process
  (SQLite: a file copy; PostgreSQL: CREATE DATABASE ... TEMPLATE, the next one made in the
  background while a test runs, and used ones dropped in the background);
  `@pytest.mark.fresh_metadata` gives an empty database instead, for tests that migrate;
- each live server's app gets the `/endpoints` document generated for the first app of the
  process (the same routes give the same document; tests/unit/test_inventory.py checks it);
- known-slow modules are collected first, so the last tests each xdist worker gets are short.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
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


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get(PG_ENV):
        return f"metadata stores: SQLite and PostgreSQL ({PG_ENV} is set)"
    return (
        f"metadata stores: SQLite only. PostgreSQL variants are SKIPPED because {PG_ENV} is "
        "not set (e.g. postgresql://postgres@127.0.0.1:5432/postgres)"
    )


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")


def _migrate(url: str) -> None:
    from civica.db.engine import make_engine

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


_sqlite_template: Path | None = None


def _sqlite_template_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once per test process; each test copies it."""
    global _sqlite_template
    if _sqlite_template is None:
        path = tmp_path_factory.mktemp("metadata-template") / "civica.db"
        _migrate(f"sqlite:///{path}")
        # One self-contained file (no -wal beside it), so a byte copy is the whole database.
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        _sqlite_template = path
    return _sqlite_template


class _PgDatabases:
    """Per test process: a migrated template database, copies of it for tests, one copy kept
    ready ahead, and used copies dropped in the background (CREATE and DROP DATABASE take from a
    tenth of a second to a second each here, which no test needs to wait for)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.engine = _admin_engine(base_url)
        self.template: str | None = None
        self.background = ThreadPoolExecutor(1, thread_name_prefix="pg-databases")
        self.spare: Future[str] | None = None
        self.pending: list[Future[None]] = []

    def url(self, name: str) -> str:
        url = make_url(normalise_url(self.base_url)).set(database=name)
        return url.render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(sql))

    def _copy(self) -> str:
        assert self.template is not None
        name = f"civica_t_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    def empty(self) -> str:
        name = f"civica_t_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}"')
        return name

    def take(self) -> str:
        """A new database, migrated and never used by another test."""
        if self.template is None:
            name = f"civica_tpl_{uuid.uuid4().hex[:10]}"
            self._execute(f'CREATE DATABASE "{name}"')
            _migrate(self.url(name))
            self.template = name
        spare, self.spare = self.spare, None
        name = spare.result() if spare is not None else self._copy()
        self.spare = self.background.submit(self._copy)
        return name

    def drop(self, name: str) -> None:
        for future in [f for f in self.pending if f.done()]:
            self.pending.remove(future)
            future.result()  # an earlier drop that failed says so here
        self.pending.append(
            self.background.submit(self._execute, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )

    def close(self) -> None:
        if self.spare is not None and self.spare.exception() is None:
            self.drop(self.spare.result())
        for future in self.pending:
            future.result()
        self.background.shutdown(wait=True)
        if self.template is not None:
            self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self.engine.dispose()


_pg: _PgDatabases | None = None


def _pg_databases(base_url: str) -> _PgDatabases:
    global _pg
    if _pg is None:
        _pg = _PgDatabases(base_url)
    return _pg


# Modules whose tests take longest (real subprocess servers, browsers, model fits, fuzzing),
# slowest first: run first, so that no xdist worker starts one of them near the end while the
# others sit idle. Everything else keeps its collection order, after these.
SLOW_FIRST = (
    "fuzz/test_schemathesis.py",
    "web/test_browser.py",
    "e2e/test_newcomer.py",
    "e2e/test_serve.py",
    "e2e/test_io.py",
    "e2e/test_scale_out.py",
    "faults/test_faults.py",
    "faults/test_storage_faults.py",
    "compat/test_civis_models.py",
    "integration/test_predictions.py",
    "compat/test_civis_io_import.py",
    "compat/test_civis_reports.py",
    "integration/test_reports_s3.py",
    "integration/test_imports_files_s3.py",
    "compat/test_civis_files.py",
    "integration/test_rate_limit.py",
    "web/test_pages_more.py",
    "integration/test_models.py",
    "compat/test_civis_jobs.py",
    "compat/test_civis_sql.py",
    "integration/test_permission_matrix.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).parent
    rank = {module: i for i, module in enumerate(SLOW_FIRST)}

    def key(item: pytest.Item) -> int:
        try:
            module = item.path.relative_to(tests_dir).as_posix()
        except ValueError:
            return len(rank)
        return rank.get(module, len(rank))

    items.sort(key=key)  # stable: each module keeps its own order


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _pg is not None:
        _pg.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def metadata_url(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A metadata database of this test's own: migrated to the newest revision (a copy of a
    template), or empty with `@pytest.mark.fresh_metadata`."""
    only = request.node.get_closest_marker("sqlite_only")
    if only is not None and request.param == "postgresql":
        pytest.skip(f"SQLite only: {only.args[0] if only.args else 'store-independent'}")
    fresh = request.node.get_closest_marker("fresh_metadata") is not None
    if request.param == "sqlite":
        path = tmp_path / "civica.db"
        if not fresh:
            shutil.copyfile(_sqlite_template_file(tmp_path_factory), path)
        yield f"sqlite:///{path}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL variant skipped: set {PG_ENV} to run it")
    pg = _pg_databases(base)
    name = pg.empty() if fresh else pg.take()
    yield pg.url(name)
    pg.drop(name)


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


_swagger: tuple[object, object] | None = None  # (the routes it was made for, the document)


def _routes(app: FastAPI) -> object:
    return [
        (getattr(r, "path", None), sorted(getattr(r, "methods", None) or ()), type(r).__name__)
        for r in app.routes
    ]


def app_for(platform: Platform) -> FastAPI:
    """create_app(platform), with the `/endpoints` document of an earlier app of this process
    when the routes are the same (the document is made from them alone, and making it costs
    about a second of CPU; the app's own cache is where it would keep it)."""
    app = create_app(platform)
    if _swagger is not None and _swagger[0] == _routes(app):
        app.state.swagger = _swagger[1]
    return app


def keep_swagger(app: FastAPI) -> None:
    """Remember the `/endpoints` document `app` made, for app_for() to hand to later apps."""
    global _swagger
    made = getattr(app.state, "swagger", None)
    if _swagger is None and made is not None:
        _swagger = (_routes(app), made)


@pytest.fixture
def live(platform: Platform) -> Iterator[LiveServer]:
    """The real app served by uvicorn over TCP on a free port, in a background thread."""
    port = free_port()
    app = app_for(platform)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
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
    keep_swagger(app)


@pytest.fixture
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client(live.admin_key) as c:
        yield c

"""Engines per dialect: SQLite (WAL) by default, PostgreSQL through psycopg 3."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def database_full(exc: BaseException) -> bool:
    """Whether a database error means the database is out of disk: SQLite's SQLITE_FULL, or
    PostgreSQL's class 53 (insufficient resources: 53100 disk_full, 53200 out of memory...)."""
    orig = getattr(exc, "orig", exc)
    sqlstate = str(getattr(orig, "sqlstate", "") or "")
    return sqlstate.startswith("53") or "disk is full" in str(orig)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=16,
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def core_execute(
    session: Session, statement: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[*tuple[Any, ...]]:
    """Run a SELECT of plain columns on the session's connection and transaction.

    `session.execute` puts every statement through the ORM (a query context, entity loading,
    result metadata built per call), which costs more than the query on a hot read when the
    statement selects columns, not entities. Pending changes are flushed first, as
    `session.execute` would (unless autoflush is off). Rows come back as from Core: the same
    names and values `session.execute` gives for a column select.
    """
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)

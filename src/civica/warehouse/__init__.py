"""Connections to the databases civica queries on users' behalf.

`open_warehouse(url, username, password)` picks the implementation by the URL's scheme. URLs are
SQLAlchemy URLs (`postgresql://host:5432/db`, `duckdb:////path/file.duckdb`); JDBC-style
`jdbc:postgresql://host:5432/db` and `redshift://` / `postgres://` are read as PostgreSQL.

Implementations: `duckdb.DuckDbWarehouse` (the embedded default; one shared connection per
file per process), `postgres.PostgresWarehouse` (psycopg 3: COPY, server-side cursors, real
cancel) and `sqlalchemy.SqlAlchemyWarehouse` for any other SQLAlchemy URL. docs/sql.md says
more.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from civica.warehouse.base import (
    MAX_PREVIEW_ROWS,
    Column,
    CsvFormat,
    Export,
    Interrupted,
    Preview,
    TableColumn,
    TableInfo,
    Warehouse,
    WarehouseError,
)
from civica.warehouse.sqlalchemy import SqlAlchemyWarehouse, mask_url, scrub

# Backends whose database is a local file: they have no logins, and a URL naming a file would let
# a caller make the server open (or create) arbitrary paths.
FILE_BACKENDS = frozenset({"duckdb", "sqlite"})
# Scheme (before any `+driver`) -> the SQLAlchemy driver civica uses for it.
DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "redshift": "postgresql+psycopg",
    "duckdb": "duckdb",
    "sqlite": "sqlite",
}
EXAMPLES = (
    "e.g. postgresql://host:5432/db, jdbc:postgresql://host:5432/db or duckdb:////path/x.duckdb"
)


def parse_url(url: str) -> URL:
    """A database URL as a SQLAlchemy URL with civica's driver; WarehouseError if it is not one."""
    raw = url.strip()
    if raw[:5].lower() == "jdbc:":
        raw = raw[5:]
    if "://" not in raw:
        raise WarehouseError(f"{_masked(url)} is not a database URL; use {EXAMPLES}")
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError):
        raise WarehouseError(f"{_masked(url)} is not a database URL; use {EXAMPLES}") from None
    scheme = parsed.drivername.split("+", 1)[0].lower()
    driver = DRIVERS.get(scheme)
    if driver is None:
        return parsed
    if "+" in parsed.drivername and scheme not in ("postgres", "redshift"):
        return parsed  # an explicit driver the caller chose, e.g. postgresql+psycopg
    return parsed.set(drivername=driver)


def _masked(url: str) -> str:
    """The URL for a message: any password replaced, and not absurdly long."""
    try:
        shown = mask_url(make_url(url.strip().removeprefix("jdbc:")))
    except (ArgumentError, ValueError):
        shown = url.split("@", 1)[-1] if "@" in url else url
    return repr(shown[:200])


def is_file_backed(url: URL) -> bool:
    return url.get_backend_name() in FILE_BACKENDS


def open_warehouse(
    url: str | URL, username: str | None = None, password: str | None = None
) -> Warehouse:
    """A warehouse for `url`, logging in as `username`/`password` when given (they replace any in
    the URL; file-backed engines such as DuckDB have no logins and ignore them)."""
    parsed = parse_url(url) if isinstance(url, str) else url
    if not is_file_backed(parsed):
        # A login in the query string (JDBC style: ?user=u&password=p) would override these.
        drop = ({"user", "username"} if username else set()) | (
            {"password"} if password is not None else set()
        )
        if drop & {k.lower() for k in parsed.query}:
            kept = {k: v for k, v in parsed.query.items() if k.lower() not in drop}
            parsed = parsed.set(query=kept)
        if username:
            parsed = parsed.set(username=username)
        if password is not None and (username or parsed.username):
            parsed = parsed.set(password=password or None)
    backend = parsed.get_backend_name()
    if backend == "duckdb":
        from civica.warehouse.duckdb import DuckDbWarehouse

        return DuckDbWarehouse(parsed)
    if backend == "postgresql" and parsed.get_driver_name() == "psycopg":
        from civica.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(parsed)
    return SqlAlchemyWarehouse(parsed)


__all__ = [
    "FILE_BACKENDS",
    "MAX_PREVIEW_ROWS",
    "Column",
    "CsvFormat",
    "Export",
    "Interrupted",
    "Preview",
    "TableColumn",
    "TableInfo",
    "Warehouse",
    "WarehouseError",
    "is_file_backed",
    "mask_url",
    "open_warehouse",
    "parse_url",
    "scrub",
]

"""A Warehouse over any SQLAlchemy engine: PostgreSQL (and Redshift) through psycopg 3, DuckDB
through duckdb-engine, SQLite through the standard library."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from civica.warehouse.base import SYSTEM_SCHEMAS, Warehouse, WarehouseError

CONNECT_TIMEOUT_SECONDS = 5
# Query-string keys that carry secrets in some URLs (`...?user=u&password=p`, as JDBC writes them).
_SECRET_QUERY_KEYS = frozenset({"password", "pass", "pwd", "sslpassword", "sslkey"})
# Shorter secrets are not searched for in messages: they would match ordinary text.
_MIN_SCRUB_LENGTH = 4


def mask_url(url: URL) -> str:
    """The URL as text with its password, and any password in its query string, masked."""
    query = {k: ("***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in url.query.items()}
    return url.set(query=query).render_as_string(hide_password=True)


def scrub(message: str, *secrets: str | None) -> str:
    """`message` with each secret (of a length worth searching for) replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SCRUB_LENGTH:
            message = message.replace(secret, "***")
    return message


def _connect_args(url: URL) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend == "postgresql":
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "civica"}
    if backend == "sqlite":
        return {"timeout": CONNECT_TIMEOUT_SECONDS}
    return {}


class SqlAlchemyWarehouse(Warehouse):
    """One SQLAlchemy engine without a pool: every call opens and closes its own connection, so
    an idle warehouse holds nothing open."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self._secrets = [url.password if isinstance(url.password, str) else None] + [
            v
            for k, v in url.query.items()
            if k.lower() in _SECRET_QUERY_KEYS and isinstance(v, str)
        ]
        try:
            self.engine: Engine = create_engine(
                url, poolclass=NullPool, connect_args=_connect_args(url)
            )
        except (NoSuchModuleError, ImportError):
            raise WarehouseError(
                f"this server has no driver for {url.drivername!r} databases; "
                "install one (e.g. pip install psycopg[binary] for PostgreSQL)"
            ) from None
        except (SQLAlchemyError, ValueError, TypeError) as exc:
            raise WarehouseError(
                f"cannot use {self.display_url}: {self._clean(str(exc))}"
            ) from None

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def _clean(self, message: str) -> str:
        """A driver's message, shortened, with the password masked should it appear in it."""
        return scrub(" ".join(message.split()), *self._secrets)[:400]

    def _failure(self, exc: Exception, doing: str) -> WarehouseError:
        detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        return WarehouseError(f"{doing} {self.display_url} failed: {self._clean(str(detail))}")

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except (SQLAlchemyError, OSError) as exc:
            who = f" as {self.url.username!r}" if self.url.username else ""
            raise self._failure(exc, f"connecting{who} to") from None
        except Exception as exc:  # drivers raise their own types (e.g. duckdb.IOException)
            raise self._failure(exc, "opening") from None

    def check_login(self) -> None:
        with self._connect() as conn:
            try:
                conn.execute(text("SELECT 1")).scalar()
            except Exception as exc:
                raise self._failure(exc, "running SELECT 1 on") from None

    def list_schemas(self) -> list[str]:
        with self._connect() as conn:
            try:
                names = inspect(conn).get_schema_names()
                if self.backend == "duckdb":
                    names = self._duckdb_own_schemas(conn, names)
            except Exception as exc:
                raise self._failure(exc, "listing the schemas of") from None
        return sorted({n for n in names if n not in SYSTEM_SCHEMAS and not n.startswith("pg_")})

    @staticmethod
    def _duckdb_own_schemas(conn: Connection, names: list[str]) -> list[str]:
        """duckdb-engine names schemas `catalog.schema` across every attached catalog (`system`,
        `temp`, the file itself); keep the file's own, unqualified."""
        catalog = conn.execute(text("SELECT current_database()")).scalar()
        prefix = f"{catalog}."
        return [n[len(prefix) :] for n in names if n.startswith(prefix)]

    def ensure_schema(self, name: str) -> None:
        quoted = '"' + name.replace('"', '""') + '"'
        with self._connect() as conn:
            try:
                if name not in self._current_schemas(conn):
                    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
                    conn.commit()
            except Exception as exc:
                raise self._failure(exc, f"creating schema {name!r} in") from None

    def _current_schemas(self, conn: Connection) -> set[str]:
        names = inspect(conn).get_schema_names()
        if self.backend == "duckdb":
            names = self._duckdb_own_schemas(conn, names)
        return set(names)

    def close(self) -> None:
        self.engine.dispose()

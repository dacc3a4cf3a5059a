"""A Warehouse over any SQLAlchemy engine (SQLite, MySQL, ... and the catalog calls of
PostgreSQL, whose statements `civica.warehouse.postgres` runs natively).

Statements run through the driver's DB-API cursor; exports fetch rows in batches and write them
with Python's csv module, since a generic engine has no bulk export path. Cancelling takes
effect between statements and between fetched batches."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from civica.warehouse.base import (
    SYSTEM_SCHEMAS,
    Column,
    CsvFormat,
    Export,
    Interrupted,
    Preview,
    TableColumn,
    TableInfo,
    Warehouse,
    WarehouseError,
    as_text,
)
from civica.warehouse.csvfiles import PartWriter, export_cursor, header_line
from civica.warehouse.sqltext import split_statements

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
        self._lock = threading.Lock()
        self._stopped: str | None = None
        self._timeout: float | None = None
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

    # -- tables ----------------------------------------------------------------------------------

    def list_tables(self, schema: str | None = None, name: str | None = None) -> list[TableInfo]:
        with self._connect() as conn:
            try:
                found = inspect(conn)
                schemas = [schema] if schema is not None else self._user_schemas(conn)
                out = []
                for sch in schemas:
                    tables = [(t, False) for t in found.get_table_names(schema=sch)]
                    views = [(v, True) for v in found.get_view_names(schema=sch)]
                    for table, is_view in sorted(tables + views):
                        if name is None or table == name:
                            out.append(TableInfo(schema=sch, name=table, is_view=is_view))
            except Exception as exc:
                raise self._failure(exc, "listing the tables of") from None
        return out

    def _user_schemas(self, conn: Connection) -> list[str]:
        names = inspect(conn).get_schema_names()
        return sorted(n for n in names if n not in SYSTEM_SCHEMAS and not n.startswith("pg_"))

    def describe_table(self, schema: str, name: str) -> TableInfo | None:
        found = self.list_tables(schema, name)
        if not found:
            return None
        info = found[0]
        with self._connect() as conn:
            try:
                columns = inspect(conn).get_columns(name, schema=schema)
            except Exception as exc:
                raise self._failure(exc, f"describing {schema}.{name} in") from None
        info.columns = [
            TableColumn(
                name=str(c["name"]),
                sql_type=self._type_name(c["type"]),
                order=i,
                nullable=bool(c.get("nullable", True)),
            )
            for i, c in enumerate(columns, 1)
        ]
        return info

    def _type_name(self, sql_type: Any) -> str:
        try:
            return str(sql_type.compile(dialect=self.engine.dialect))
        except Exception:
            return str(sql_type)

    # -- statements ------------------------------------------------------------------------------

    def interrupt(self, reason: str = "the run was cancelled") -> None:
        with self._lock:
            self._stopped = reason

    def _check_stop(self) -> None:
        if self._stopped:
            raise Interrupted(f"stopped: {self._stopped}")

    def _timer(self, timeout: float | None) -> threading.Timer | None:
        if not timeout:
            return None
        timer = threading.Timer(
            timeout, self.interrupt, (f"the statement ran longer than {timeout:g} seconds",)
        )
        timer.daemon = True
        timer.start()
        return timer

    def _statements(self, sql: str) -> list[str]:
        statements = split_statements(sql)
        if not statements:
            raise WarehouseError("the SQL has no statements to run")
        return statements

    def _statement_error(self, exc: Exception, number: int, total: int) -> WarehouseError:
        if self._stopped:
            return Interrupted(f"stopped: {self._stopped}")
        detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        where = f" (statement {number} of {total})" if total > 1 else ""
        return WarehouseError(f"{self._clean_long(str(detail))}{where}")

    def _clean_long(self, message: str) -> str:
        return scrub(message.strip(), *self._secrets)[:4000]

    def _execute_all(self, sql: str, last: Any) -> Any:
        """Run every statement on one DB-API connection (autocommitted one by one); `last`
        receives the cursor after the last statement and returns the result."""
        statements = self._statements(sql)
        total = len(statements)
        self._stopped = None
        timer = self._timer(self._timeout)
        try:
            with self._connect() as conn:
                raw = conn.connection.dbapi_connection
                assert raw is not None
                cursor = raw.cursor()
                try:
                    for number, statement in enumerate(statements, 1):
                        self._check_stop()
                        try:
                            cursor.execute(statement)
                            raw.commit()
                        except Exception as exc:
                            raise self._statement_error(exc, number, total) from None
                    try:
                        return last(cursor, total)
                    except WarehouseError:
                        raise
                    except Exception as exc:
                        raise self._statement_error(exc, total, total) from None
                finally:
                    cursor.close()
        finally:
            if timer is not None:
                timer.cancel()

    def run(self, sql: str, *, preview_rows: int = 100, timeout: float | None = None) -> Preview:
        self._timeout = timeout

        def last(cursor: Any, total: int) -> Preview:
            preview = Preview(statements=total)
            if cursor.description:
                preview.columns = [Column(str(d[0]), str(d[1] or "")) for d in cursor.description]
                if preview_rows > 0:
                    rows = cursor.fetchmany(preview_rows)
                    preview.rows = [[as_text(v) for v in row] for row in rows]
            return preview

        result: Preview = self._execute_all(sql, last)
        return result

    def export(
        self,
        sql: str,
        folder: Path,
        stem: str,
        fmt: CsvFormat,
        *,
        timeout: float | None = None,
        preview_rows: int = 0,
    ) -> Export:
        self._timeout = timeout

        def last(cursor: Any, total: int) -> Export:
            export = Export(statements=total)
            if not cursor.description:
                return export
            export.columns = [Column(str(d[0]), str(d[1] or "")) for d in cursor.description]
            header = header_line([c.name for c in export.columns], fmt) if fmt.header else None
            writer = PartWriter(folder, stem, fmt, header)
            return export_cursor(export, cursor, writer, preview_rows, self._check_stop)

        result: Export = self._execute_all(sql, last)
        return result

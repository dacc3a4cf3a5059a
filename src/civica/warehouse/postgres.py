"""PostgreSQL (and Redshift-compatible) databases through psycopg 3, natively.

The catalog calls (schemas, tables, login check) come from the SQLAlchemy warehouse; statements
run on one psycopg connection in autocommit mode, one statement at a time. Previews read the
last statement through a server-side cursor, so only the rows shown leave the server. Exports
stream `COPY (query) TO STDOUT WITH (FORMAT csv)` straight into the (compressed) files.
`interrupt()` sends PostgreSQL's cancel request for the statement in progress, and a time limit
is both `statement_timeout` and a timer that cancels.
"""

from __future__ import annotations

import contextlib
import zlib
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql

from civica.warehouse.base import (
    Column,
    CsvFormat,
    CsvLoad,
    Export,
    Interrupted,
    Loaded,
    Preview,
    TableColumn,
    WarehouseError,
    as_text,
    type_for,
)
from civica.warehouse.csvfiles import PartWriter, header_line, open_plain
from civica.warehouse.sqlalchemy import SqlAlchemyWarehouse
from civica.warehouse.sqltext import is_copyable_query, quote_ident, quote_literal

RESULT_TABLE = "civica_export_result"


def _columns(cursor: psycopg.Cursor[Any] | psycopg.ServerCursor[Any]) -> list[Column]:
    return [Column(d.name, d.type_display) for d in cursor.description or []]


class PostgresWarehouse(SqlAlchemyWarehouse):
    _pg: psycopg.Connection[Any] | None = None
    _raw: Any = None

    def interrupt(self, reason: str = "the run was cancelled") -> None:
        with self._lock:
            self._stopped = reason
            conn = self._pg
        if conn is not None:
            with contextlib.suppress(Exception):  # the connection may be gone already
                conn.cancel_safe(timeout=5)

    def _open(self) -> psycopg.Connection[Any]:
        """A new psycopg connection with the warehouse's login (through the engine, so the
        connect timeout and application name apply), in autocommit mode."""
        try:
            raw = self.engine.raw_connection()
        except Exception as exc:
            who = f" as {self.url.username!r}" if self.url.username else ""
            raise self._failure(exc, f"connecting{who} to") from None
        conn = raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        conn.autocommit = True
        self._raw = raw
        return conn

    def _pg_error(self, exc: Exception, number: int, total: int) -> WarehouseError:
        if self._stopped:
            return Interrupted(f"stopped: {self._stopped}")
        message = str(exc).strip()
        diag = getattr(exc, "diag", None)
        hint = getattr(diag, "message_hint", None) if diag is not None else None
        if hint and hint not in message:
            message += f" (hint: {hint})"
        where = f" (statement {number} of {total})" if total > 1 else ""
        return WarehouseError(f"{self._clean_long(message)}{where}")

    def _session(self, sql: str, timeout: float | None, body: Any) -> Any:
        statements = self._statements(sql)
        total = len(statements)
        self._stopped = None
        conn = self._open()
        with self._lock:
            self._pg = conn
        timer = self._timer(timeout)
        number = 0
        try:
            with conn.cursor() as cursor:
                if timeout:
                    cursor.execute(
                        pgsql.SQL("SET statement_timeout = {}").format(int(timeout * 1000))
                    )
                for index, statement in enumerate(statements[:-1], 1):
                    number = index
                    self._check_stop()
                    cursor.execute(statement.encode("utf-8"))
                self._check_stop()
                number = total
                return body(conn, cursor, statements[-1], total)
        except psycopg.Error as exc:
            raise self._pg_error(exc, number, total) from None
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                self._pg = None
            with contextlib.suppress(Exception):
                self._raw.close()

    def run(self, sql: str, *, preview_rows: int = 100, timeout: float | None = None) -> Preview:
        def body(conn: psycopg.Connection[Any], cursor: Any, last: str, total: int) -> Preview:
            preview = Preview(statements=total)
            if is_copyable_query(last):
                with conn.transaction(), conn.cursor(name="civica_preview") as server:
                    server.execute(last.encode("utf-8"))
                    preview.columns = _columns(server)
                    rows = server.fetchmany(preview_rows) if preview_rows > 0 else []
            else:
                cursor.execute(last.encode("utf-8"))
                preview.columns = _columns(cursor)
                rows = cursor.fetchmany(preview_rows) if cursor.description and preview_rows else []
            preview.rows = [[as_text(v) for v in row] for row in rows]
            return preview

        result: Preview = self._session(sql, timeout, body)
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
        def body(conn: psycopg.Connection[Any], cursor: Any, last: str, total: int) -> Export:
            export = Export(statements=total)
            if not is_copyable_query(last):
                cursor.execute(last.encode("utf-8"))
                if not cursor.description:
                    return export
                return self._fetched(cursor, folder, stem, fmt, export, preview_rows)
            source = last
            if preview_rows > 0:
                cursor.execute(f"CREATE TEMP TABLE {RESULT_TABLE} AS {last}".encode())
                source = f"SELECT * FROM {RESULT_TABLE}"
            cursor.execute(f"SELECT * FROM ({source}) AS civica_q LIMIT 0".encode())
            export.columns = _columns(cursor)
            header = header_line([c.name for c in export.columns], fmt) if fmt.header else None
            writer = PartWriter(folder, stem, fmt, header)
            if fmt.quoted:
                options = f"FORMAT csv, DELIMITER {quote_literal(fmt.delimiter)}"
            else:
                options = f"FORMAT text, NULL '', DELIMITER {quote_literal(fmt.delimiter)}"
            try:
                with cursor.copy(f"COPY ({source}) TO STDOUT WITH ({options})".encode()) as copy:
                    for data in copy:
                        writer.write(bytes(data))
            finally:
                export.files = writer.close()
            export.rows = cursor.rowcount if cursor.rowcount >= 0 else None
            if preview_rows > 0:
                cursor.execute(f"SELECT * FROM {RESULT_TABLE} LIMIT {int(preview_rows)}".encode())
                export.preview = [[as_text(v) for v in row] for row in cursor.fetchall()]
                cursor.execute(f"DROP TABLE IF EXISTS {RESULT_TABLE}".encode())
            return export

        result: Export = self._session(sql, timeout, body)
        return result

    def load_files(
        self,
        paths: list[Path],
        schema: str,
        table: str,
        columns: list[TableColumn],
        existing: str = "fail",
        fmt: CsvLoad = CsvLoad(),
        *,
        timeout: float | None = None,
    ) -> Loaded:
        """`COPY ... FROM STDIN` fed with each file's (decompressed) bytes, in one transaction.
        PostgreSQL's COPY cannot skip bad rows (before version 17), so `max_errors` does not
        apply: the first unreadable row fails the load, naming its line."""
        target = f"{quote_ident(schema)}.{quote_ident(table)}"
        exists = bool(self.list_tables(schema, table))
        if exists and existing == "fail":
            raise WarehouseError(
                f"table {schema}.{table} already exists; set existing_table_rows to truncate, "
                "append or drop to load into it"
            )
        options = f"FORMAT csv, HEADER {'true' if fmt.header else 'false'}, "
        options += f"DELIMITER {quote_literal(fmt.delimiter)}"
        if fmt.escaped:
            options += ", ESCAPE '\\'"

        def body(conn: psycopg.Connection[Any], cursor: Any, last: str, total: int) -> Loaded:
            nonlocal exists
            loaded = Loaded()
            with conn.transaction():
                if exists and existing == "drop":
                    cursor.execute(f"DROP TABLE {target}".encode())
                    exists = False
                elif exists and existing == "truncate":
                    cursor.execute(f"TRUNCATE {target}".encode())
                if not exists:
                    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}".encode())
                    cols = ", ".join(
                        f"{quote_ident(c.name)} {type_for(c.sql_type, 'postgresql')}"
                        for c in columns
                    )
                    cursor.execute(f"CREATE TABLE {target} ({cols})".encode())
                for path in paths:
                    sql = f"COPY {target} FROM STDIN WITH ({options})"
                    with cursor.copy(sql.encode()) as copy, open_plain(path, fmt.compression) as fh:
                        while chunk := fh.read(1024 * 1024):
                            self._check_stop()
                            copy.write(chunk)
                    loaded.rows += int(cursor.rowcount) if cursor.rowcount >= 0 else 0
            return loaded

        try:
            result: Loaded = self._session("SELECT 1", timeout, body)
        except (OSError, EOFError, zlib.error) as exc:
            raise WarehouseError(
                f"reading the file failed ({exc}); check its compression setting"
            ) from None
        return result

    def _fetched(
        self,
        cursor: Any,
        folder: Path,
        stem: str,
        fmt: CsvFormat,
        export: Export,
        preview_rows: int,
    ) -> Export:
        from civica.warehouse.csvfiles import write_rows

        export.columns = _columns(cursor)
        header = header_line([c.name for c in export.columns], fmt) if fmt.header else None
        writer = PartWriter(folder, stem, fmt, header)
        rows = cursor.fetchall()
        export.rows = write_rows(writer, [rows])
        export.files = writer.close()
        export.preview = [[as_text(v) for v in row] for row in rows[:preview_rows]]
        return export

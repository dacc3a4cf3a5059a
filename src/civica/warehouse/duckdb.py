"""DuckDB, the embedded warehouse: a file in the data folder, used through the `duckdb` module.

**One connection per file per process.** DuckDB lets one process at a time open a database file
for writing, and inside a process every connection to a file must share one configuration. So
civica keeps one shared connection per file (opened on first use, closed after
`KEEP_ALIVE_SECONDS` without users) and gives each script its own cursor, DuckDB's name for
another session on the same database: temporary tables and settings are per script, and
scripts run in parallel. A consequence: the embedded warehouse can be used by the workers inside
`civica serve` (or one `civica worker` process), not by several processes at once; put the
warehouse on PostgreSQL to scale workers out.

The `public` schema, when the file has one (the embedded warehouse always does), comes first on
each session's search path, so `CREATE TABLE t` and `public.t` mean the same table as on
PostgreSQL. Exports use `COPY (query) TO 'file' (FORMAT CSV, ...)`, DuckDB's own parallel CSV
writer with gzip; zip archives are made from its plain output.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.engine import URL

from civica.warehouse.base import (
    SYSTEM_SCHEMAS,
    Column,
    CsvFormat,
    CsvLoad,
    Export,
    Interrupted,
    Loaded,
    Preview,
    TableColumn,
    TableInfo,
    Warehouse,
    WarehouseError,
    as_text,
    type_for,
)
from civica.warehouse.csvfiles import (
    PartWriter,
    export_cursor,
    header_line,
    part_path,
    unzip_first,
    zip_file,
)
from civica.warehouse.sqltext import (
    first_keyword,
    is_copyable_query,
    quote_ident,
    quote_literal,
    split_statements,
)

KEEP_ALIVE_SECONDS = 30.0
RESULT_TABLE = "civica_export_result"


@dataclass
class _Shared:
    conn: duckdb.DuckDBPyConnection
    users: int = 0
    closer: threading.Timer | None = None
    has_public: bool = False


_POOL: dict[str, _Shared] = {}
_POOL_LOCK = threading.Lock()
# Warehouses that may be running a statement, so the process can stop them when it exits.
_ACTIVE: weakref.WeakSet[DuckDbWarehouse] = weakref.WeakSet()


def scratch_dir(path: str) -> Path:
    """The only folder SQL on the file `path` may read or write files in (`.civica-io` next to
    it): exports are written there and moved out, loads are read from there."""
    if path == ":memory:":
        return Path(tempfile.gettempdir()) / f"civica-duckdb-io-{os.getpid()}"
    return Path(path).parent / ".civica-io"


def _acquire(path: str) -> _Shared:
    with _POOL_LOCK:
        shared = _POOL.get(path)
        if shared is None:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            scratch = scratch_dir(path)
            scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
            conn = duckdb.connect(path)
            # Users' SQL must not reach the server's files (the metadata store, the secret key,
            # other databases): no file access but the scratch folder, and no way to turn that
            # back on (DuckDB refuses to re-enable it while the database runs).
            conn.execute(f"SET allowed_directories = [{quote_literal(str(scratch) + os.sep)}]")
            conn.execute("SET enable_external_access = false")
            shared = _Shared(conn=conn)
            shared.has_public = _has_schema(conn, "public")
            _POOL[path] = shared
        if shared.closer is not None:
            shared.closer.cancel()
            shared.closer = None
        shared.users += 1
        return shared


def _release(path: str) -> None:
    with _POOL_LOCK:
        shared = _POOL.get(path)
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            timer = threading.Timer(KEEP_ALIVE_SECONDS, _close_if_idle, (path, shared))
            timer.daemon = True
            shared.closer = timer
            timer.start()


def _close_if_idle(path: str, shared: _Shared) -> None:
    if sys.is_finalizing():  # the exit handler closes everything
        return
    with _POOL_LOCK:
        if _POOL.get(path) is not shared or shared.users > 0:
            return
        del _POOL[path]
    with contextlib.suppress(duckdb.Error):
        shared.conn.close()


def close_all() -> None:
    """Close every idle shared connection now (e.g. before another process opens the files)."""
    with _POOL_LOCK:
        idle = [(p, s) for p, s in _POOL.items() if s.users <= 0]
    for path, shared in idle:
        if shared.closer is not None:
            shared.closer.cancel()
        _close_if_idle(path, shared)


@atexit.register
def _close_at_exit() -> None:
    """Stop running statements and close every connection while the interpreter still runs:
    DuckDB aborts the process when a thread is torn down inside it during finalisation."""
    for wh in list(_ACTIVE):
        wh.interrupt("the process is exiting")
    with _POOL_LOCK:
        shared_all = list(_POOL.values())
        _POOL.clear()
    for shared in shared_all:
        if shared.closer is not None:
            shared.closer.cancel()
        with contextlib.suppress(duckdb.Error):
            shared.conn.close()


def _has_schema(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM information_schema.schemata "
        "WHERE catalog_name = current_database() AND schema_name = ?",
        [name],
    ).fetchone()
    return bool(row and row[0])


# Statements whose result is always rows (DuckDB answers others with a `Count` or `Success`
# column).
_ROW_STATEMENTS = frozenset(
    {"select", "with", "values", "table", "from", "show", "describe", "summarize", "pragma",
     "explain", "call", "pivot", "unpivot"}
)  # fmt: skip


def _columns(cursor: duckdb.DuckDBPyConnection, statement: str) -> list[Column]:
    """The result's columns, or none when the statement only reported a count of rows."""
    description = cursor.description or []
    if (
        len(description) == 1
        and description[0][0] in ("Count", "Success")
        and first_keyword(statement) not in _ROW_STATEMENTS
    ):
        return []
    return [Column(d[0], str(d[1])) for d in description]


def _message(exc: Exception) -> str:
    text = str(exc).strip()
    return text[:4000]


class DuckDbWarehouse(Warehouse):
    def __init__(self, url: URL) -> None:
        self.url = url
        database = url.database or ":memory:"
        self.path = database if database == ":memory:" else os.path.abspath(database)
        self._shared: _Shared | None = None
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._stopped: str | None = None

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    # -- the shared connection and this warehouse's session --------------------------------------

    def _conn(self) -> duckdb.DuckDBPyConnection:
        if self._shared is None:
            try:
                self._shared = _acquire(self.path)
            except (duckdb.Error, OSError) as exc:
                raise WarehouseError(
                    f"opening {self.display_url} failed: {_message(exc)}"
                ) from None
        return self._shared.conn

    def _session(self) -> duckdb.DuckDBPyConnection:
        conn = self._conn()
        cursor = conn.cursor()
        assert self._shared is not None
        if self._shared.has_public:
            cursor.execute("SET search_path = 'public,main'")
        with self._lock:
            self._cursor = cursor
            self._stopped = None
        _ACTIVE.add(self)
        return cursor

    def _end_session(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._cursor = None
        _ACTIVE.discard(self)
        with contextlib.suppress(duckdb.Error):
            cursor.close()

    def interrupt(self, reason: str = "the run was cancelled") -> None:
        with self._lock:
            self._stopped = reason
            cursor = self._cursor
        if cursor is not None:
            cursor.interrupt()

    def _timer(self, timeout: float | None) -> threading.Timer | None:
        if not timeout:
            return None
        timer = threading.Timer(
            timeout, self.interrupt, (f"the statement ran longer than {timeout:g} seconds",)
        )
        timer.daemon = True
        timer.start()
        return timer

    def _failed(self, exc: Exception, number: int, total: int) -> WarehouseError:
        if isinstance(exc, duckdb.InterruptException) or self._stopped:
            return Interrupted(f"stopped: {self._stopped or 'interrupted'}")
        where = f" (statement {number} of {total})" if total > 1 else ""
        return WarehouseError(f"{_message(exc)}{where}")

    def _check_stop(self) -> None:
        if self._stopped:
            raise Interrupted(f"stopped: {self._stopped}")

    def close(self) -> None:
        if self._shared is not None:
            self._shared = None
            _release(self.path)

    # -- catalog ---------------------------------------------------------------------------------

    def check_login(self) -> None:
        try:
            self._conn().cursor().execute("SELECT 1").fetchall()
        except duckdb.Error as exc:
            raise WarehouseError(f"running SELECT 1 on {self.display_url} failed: {exc}") from None

    def list_schemas(self) -> list[str]:
        try:
            rows = (
                self._conn()
                .cursor()
                .execute(
                    "SELECT schema_name FROM information_schema.schemata "
                    "WHERE catalog_name = current_database()"
                )
                .fetchall()
            )
        except duckdb.Error as exc:
            raise WarehouseError(
                f"listing the schemas of {self.display_url} failed: {exc}"
            ) from None
        return sorted({r[0] for r in rows if r[0] not in SYSTEM_SCHEMAS})

    def ensure_schema(self, name: str) -> None:
        conn = self._conn()
        assert self._shared is not None
        if name == "public" and self._shared.has_public:
            return
        try:
            conn.cursor().execute(
                f'CREATE SCHEMA IF NOT EXISTS "{name.replace(chr(34), 2 * chr(34))}"'
            )
        except duckdb.Error as exc:
            raise WarehouseError(
                f"creating schema {name!r} in {self.display_url} failed: {exc}"
            ) from None
        if name == "public":
            self._shared.has_public = True

    def list_tables(self, schema: str | None = None, name: str | None = None) -> list[TableInfo]:
        sql = (
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        )
        args: list[Any] = []
        if schema is not None:
            sql += " AND table_schema = ?"
            args.append(schema)
        if name is not None:
            sql += " AND table_name = ?"
            args.append(name)
        sql += " ORDER BY table_schema, table_name"
        try:
            rows = self._conn().cursor().execute(sql, args).fetchall()
        except duckdb.Error as exc:
            raise WarehouseError(f"listing tables of {self.display_url} failed: {exc}") from None
        return [
            TableInfo(schema=s, name=n, is_view=t == "VIEW")
            for s, n, t in rows
            if s not in SYSTEM_SCHEMAS
        ]

    def describe_table(self, schema: str, name: str) -> TableInfo | None:
        found = self.list_tables(schema, name)
        if not found:
            return None
        info = found[0]
        try:
            cursor = self._conn().cursor()
            cols = cursor.execute(
                "SELECT column_name, data_type, ordinal_position, is_nullable "
                "FROM information_schema.columns WHERE table_catalog = current_database() "
                "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, name],
            ).fetchall()
            size = cursor.execute(
                "SELECT estimated_size FROM duckdb_tables() WHERE database_name = "
                "current_database() AND schema_name = ? AND table_name = ?",
                [schema, name],
            ).fetchone()
        except duckdb.Error as exc:
            raise WarehouseError(f"describing {schema}.{name} failed: {exc}") from None
        info.columns = [
            TableColumn(name=c, sql_type=str(t), order=int(o), nullable=n == "YES")
            for c, t, o, n in cols
        ]
        info.row_count = int(size[0]) if size and size[0] is not None else None
        return info

    # -- statements ------------------------------------------------------------------------------

    def _statements(self, sql: str) -> list[str]:
        statements = split_statements(sql)
        if not statements:
            raise WarehouseError("the SQL has no statements to run")
        return statements

    def _run_before_last(self, cursor: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
        total = len(statements)
        for number, statement in enumerate(statements[:-1], 1):
            self._check_stop()
            try:
                cursor.execute(statement)
            except duckdb.Error as exc:
                raise self._failed(exc, number, total) from None

    def run(self, sql: str, *, preview_rows: int = 100, timeout: float | None = None) -> Preview:
        statements = self._statements(sql)
        total = len(statements)
        cursor = self._session()
        timer = self._timer(timeout)
        try:
            self._run_before_last(cursor, statements)
            self._check_stop()
            try:
                cursor.execute(statements[-1])
                preview = Preview(statements=total, columns=_columns(cursor, statements[-1]))
                if preview.columns and preview_rows > 0:
                    rows = cursor.fetchmany(preview_rows)
                    preview.rows = [[as_text(v) for v in row] for row in rows]
            except duckdb.Error as exc:
                raise self._failed(exc, total, total) from None
            return preview
        finally:
            if timer is not None:
                timer.cancel()
            self._end_session(cursor)

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
        statements = self._statements(sql)
        total = len(statements)
        cursor = self._session()
        timer = self._timer(timeout)
        try:
            self._run_before_last(cursor, statements)
            self._check_stop()
            last = statements[-1]
            try:
                if is_copyable_query(last):
                    return self._copy_out(cursor, last, folder, stem, fmt, total, preview_rows)
                return self._fetch_export(cursor, last, folder, stem, fmt, total, preview_rows)
            except duckdb.Error as exc:
                raise self._failed(exc, total, total) from None
        finally:
            if timer is not None:
                timer.cancel()
            self._end_session(cursor)

    def _ordered_parts(
        self,
        cursor: duckdb.DuckDBPyConnection,
        folder: Path,
        stem: str,
        plain: CsvFormat,
        options: list[str],
        fmt: CsvFormat,
    ) -> list[Path]:
        counted = cursor.execute(f"SELECT count(*) FROM {RESULT_TABLE}").fetchone()
        rows = int(counted[0]) if counted else 0
        if rows == 0:
            return []
        sample_rows = min(rows, 10_000)
        sample = folder / f".{stem}.sample"
        try:
            cursor.execute(
                f"COPY (SELECT * FROM {RESULT_TABLE} LIMIT {sample_rows}) "
                f"TO {quote_literal(str(sample))} ({', '.join(options)})"
            )
            sample_bytes = max(1, sample.stat().st_size)
        finally:
            sample.unlink(missing_ok=True)
        per_part = max(1, int(int(fmt.max_part_bytes or 0) * sample_rows / sample_bytes))
        files = []
        for index, start in enumerate(range(0, rows, per_part)):
            self._check_stop()
            target = part_path(folder, stem, plain, index)
            cursor.execute(
                f"COPY (SELECT * FROM {RESULT_TABLE} WHERE rowid >= {start} "
                f"AND rowid < {start + per_part}) TO {quote_literal(str(target))} "
                f"({', '.join(options)})"
            )
            files.append(target)
        return files

    def _scratch(self) -> Path:
        folder = scratch_dir(self.path) / uuid.uuid4().hex
        folder.mkdir(mode=0o700, parents=True)
        return folder

    def _copy_out(
        self,
        cursor: duckdb.DuckDBPyConnection,
        query: str,
        folder: Path,
        stem: str,
        fmt: CsvFormat,
        total: int,
        preview_rows: int,
    ) -> Export:
        """COPY into a scratch folder DuckDB may write to, then move the files to `folder`."""
        scratch = self._scratch()
        try:
            export = self._copy(cursor, query, scratch, stem, fmt, total, preview_rows)
            moved = []
            for path in export.files:
                target = folder / path.name
                shutil.move(path, target)
                moved.append(target)
            export.files = moved
            return export
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _copy(
        self,
        cursor: duckdb.DuckDBPyConnection,
        query: str,
        folder: Path,
        stem: str,
        fmt: CsvFormat,
        total: int,
        preview_rows: int,
    ) -> Export:
        export = Export(statements=total)
        source = query
        materialised = preview_rows > 0 or bool(fmt.max_part_bytes)
        if materialised:  # run the query once: keep its rows for the files and the preview
            cursor.execute(f"CREATE OR REPLACE TEMP TABLE {RESULT_TABLE} AS {query}")
            source = f"SELECT * FROM {RESULT_TABLE}"
        relation = cursor.sql(source)
        export.columns = [
            Column(n, str(t)) for n, t in zip(relation.columns, relation.types, strict=True)
        ]
        options = [
            "FORMAT CSV",
            f"HEADER {'true' if fmt.header else 'false'}",
            f"DELIMITER {quote_literal(fmt.delimiter)}",
        ]
        if not fmt.quoted:
            options.append("QUOTE ''")
        gzip = fmt.compression == "gzip"
        options.append(f"COMPRESSION {'gzip' if gzip else 'none'}")
        plain = CsvFormat(
            header=fmt.header,
            delimiter=fmt.delimiter,
            quoted=fmt.quoted,
            compression="gzip" if gzip else "none",
            max_part_bytes=fmt.max_part_bytes,
        )
        if fmt.max_part_bytes:
            # DuckDB's own file rotation (FILE_SIZE_BYTES) writes parts from parallel threads
            # and does not keep the rows' order across parts; an ORDER BY must survive. So each
            # part is one ordered COPY of a rowid range of the materialised result, sized from
            # the bytes a sample of rows takes in this format.
            export.files = self._ordered_parts(cursor, folder, stem, plain, options, fmt)
            count = cursor.execute(f"SELECT count(*) FROM {RESULT_TABLE}").fetchone()
            if not export.files:
                writer = PartWriter(folder, stem, plain, self._header(export.columns, fmt))
                export.files = writer.close()
        else:
            target = part_path(folder, stem, plain, None)
            count = cursor.execute(
                f"COPY ({source}) TO {quote_literal(str(target))} ({', '.join(options)})"
            ).fetchone()
            export.files = [target]
        if fmt.compression == "zip":
            zipped = []
            for path in export.files:
                archive = path.with_name(path.name + ".zip")
                zip_file(path, archive)
                zipped.append(archive)
            export.files = zipped
        export.rows = int(count[0]) if count else None
        if preview_rows > 0:
            rows = cursor.execute(f"SELECT * FROM {RESULT_TABLE} LIMIT {int(preview_rows)}")
            export.preview = [[as_text(v) for v in row] for row in rows.fetchall()]
        if materialised:
            cursor.execute(f"DROP TABLE IF EXISTS {RESULT_TABLE}")
        return export

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
        """Stage the files where DuckDB may read them (hard links, or the member of a zip
        archive), then one `COPY ... FROM` per file in one transaction."""
        scratch = self._scratch()
        try:
            staged = []
            for number, path in enumerate(paths, 1):
                target = scratch / f"load_{number}.csv"
                if fmt.compression == "zip":
                    unzip_first(path, target)
                else:
                    try:
                        os.link(path, target)
                    except OSError:
                        shutil.copyfile(path, target)
                staged.append(target)
            return self._load(staged, schema, table, columns, existing, fmt, timeout)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _load(
        self,
        paths: list[Path],
        schema: str,
        table: str,
        columns: list[TableColumn],
        existing: str,
        fmt: CsvLoad,
        timeout: float | None,
    ) -> Loaded:
        target = f"{quote_ident(schema)}.{quote_ident(table)}"
        exists = bool(self.list_tables(schema, table))
        if exists and existing == "fail":
            raise WarehouseError(
                f"table {schema}.{table} already exists; set existing_table_rows to truncate, "
                "append or drop to load into it"
            )
        options = [
            "FORMAT CSV",
            f"HEADER {'true' if fmt.header else 'false'}",
            f"DELIMITER {quote_literal(fmt.delimiter)}",
            f"COMPRESSION {'gzip' if fmt.compression == 'gzip' else 'none'}",
        ]
        if fmt.escaped:
            options.append("ESCAPE '\\'")
        if fmt.max_errors > 0:
            options += ["IGNORE_ERRORS true", "STORE_REJECTS true"]
        cursor = self._session()
        timer = self._timer(timeout)
        loaded = Loaded()
        try:
            cursor.execute("BEGIN TRANSACTION")
            try:
                if exists and existing == "drop":
                    cursor.execute(f"DROP TABLE {target}")
                    exists = False
                elif exists and existing == "truncate":
                    cursor.execute(f"DELETE FROM {target}")
                if not exists:
                    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
                    cols = ", ".join(
                        f"{quote_ident(c.name)} {type_for(c.sql_type, 'duckdb')}" for c in columns
                    )
                    cursor.execute(f"CREATE TABLE {target} ({cols})")
                for path in paths:
                    self._check_stop()
                    row = cursor.execute(
                        f"COPY {target} FROM {quote_literal(str(path))} ({', '.join(options)})"
                    ).fetchone()
                    loaded.rows += int(row[0]) if row else 0
                if fmt.max_errors > 0:
                    self._rejects(cursor, loaded, fmt.max_errors, len(paths) > 1)
                cursor.execute("COMMIT")
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):
                    cursor.execute("ROLLBACK")
                raise self._failed(exc, 1, 1) from None
            except WarehouseError:
                with contextlib.suppress(duckdb.Error):
                    cursor.execute("ROLLBACK")
                raise
            return loaded
        finally:
            if timer is not None:
                timer.cancel()
            self._end_session(cursor)

    @staticmethod
    def _rejects(
        cursor: duckdb.DuckDBPyConnection, loaded: Loaded, max_errors: int, many: bool
    ) -> None:
        """Count the rows COPY skipped (DuckDB's reject_errors table of this session) and fail
        past `max_errors`, naming the first few by file and line."""
        count = cursor.execute("SELECT count(DISTINCT (scan_id, line)) FROM reject_errors")
        row = count.fetchone()
        loaded.rejected = int(row[0]) if row else 0
        details = cursor.execute(
            "SELECT e.line, s.file_path, e.error_message FROM reject_errors e "
            "JOIN reject_scans s USING (scan_id, file_id) ORDER BY e.scan_id, e.line LIMIT 5"
        ).fetchall()
        loaded.rejects = [
            (f"file {Path(str(f)).stem.removeprefix('load_')} " if many else "")
            + f"line {line}: {str(message).splitlines()[0]}"
            for line, f, message in details
        ]
        if loaded.rejected > max_errors:
            raise WarehouseError(
                f"{loaded.rejected} row(s) could not be read, more than max_errors "
                f"({max_errors}); nothing was loaded. First: " + "; ".join(loaded.rejects)
            )

    @staticmethod
    def _header(columns: list[Column], fmt: CsvFormat) -> bytes | None:
        return header_line([c.name for c in columns], fmt) if fmt.header else None

    def _fetch_export(
        self,
        cursor: duckdb.DuckDBPyConnection,
        statement: str,
        folder: Path,
        stem: str,
        fmt: CsvFormat,
        total: int,
        preview_rows: int,
    ) -> Export:
        """A last statement COPY cannot take (SHOW, DESCRIBE, PRAGMA, ...): its (small) result
        is fetched and written through Python's csv module."""
        export = Export(statements=total)
        cursor.execute(statement)
        export.columns = _columns(cursor, statement)
        if not export.columns:
            return export
        writer = PartWriter(folder, stem, fmt, self._header(export.columns, fmt))
        return export_cursor(export, cursor, writer, preview_rows, self._check_stop)

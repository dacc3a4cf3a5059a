"""What civica needs from a database it connects to on a user's behalf (a "warehouse")."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

# Schemas every engine has for its own catalog; they are not listed to users.
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast"})
# Most rows a preview keeps (`preview_rows` of queries is capped to this).
MAX_PREVIEW_ROWS = 100
COMPRESSIONS = ("gzip", "zip", "none")


class WarehouseError(Exception):
    """A connection or statement failed. The message is safe to show to the caller: it never
    contains a password."""


class Interrupted(WarehouseError):
    """A statement was stopped by `interrupt()` (a cancelled run) or by its time limit."""


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str


@dataclass
class Preview:
    """What running a script gave: the columns and the first rows of its last statement (values
    as text, None for NULL), and how many statements ran."""

    columns: list[Column] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    statements: int = 0


@dataclass(frozen=True)
class CsvFormat:
    """How an export writes CSV: header row, one-character delimiter, quoting (when needed, or
    never), compression (gzip, zip or none) and, for multi-file exports, the largest size of one
    file's uncompressed contents (None: one file)."""

    header: bool = True
    delimiter: str = ","
    quoted: bool = True
    compression: str = "gzip"
    max_part_bytes: int | None = None

    @property
    def extension(self) -> str:
        return {"gzip": ".csv.gz", "zip": ".csv.zip"}.get(self.compression, ".csv")


@dataclass
class Export:
    """The files an export wrote (in order), the result's columns and how many rows."""

    columns: list[Column] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    rows: int | None = None
    statements: int = 0
    preview: list[list[str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class TableColumn:
    name: str
    sql_type: str
    order: int
    nullable: bool = True


@dataclass
class TableInfo:
    schema: str
    name: str
    is_view: bool = False
    columns: list[TableColumn] = field(default_factory=list)
    row_count: int | None = None


EXISTING_TABLE_ROWS = ("fail", "truncate", "append", "drop")
# How the API names column delimiters, and the character each stands for.
DELIMITERS = {"comma": ",", "tab": "\t", "pipe": "|"}


@dataclass(frozen=True)
class CsvLoad:
    """How files to load are written: a header row or not, a one-character delimiter,
    compression (gzip, zip or none), quotes escaped by a backslash (`escaped`) instead of
    doubled, and how many unreadable rows may be skipped (0: none)."""

    header: bool = True
    delimiter: str = ","
    compression: str = "none"
    escaped: bool = False
    max_errors: int = 0


@dataclass
class Loaded:
    """What a load did: rows added, and the rows it skipped (line and why), at most a few."""

    rows: int = 0
    rejected: int = 0
    rejects: list[str] = field(default_factory=list)


def type_for(sql_type: str, backend: str) -> str:
    """A column type another engine printed, as `backend` (duckdb or postgresql) spells it."""
    t = sql_type.strip().upper()
    nested = "[" in t or t.startswith(("STRUCT", "MAP", "UNION", "LIST", "ARRAY"))
    if backend == "postgresql":
        if nested:
            return "text"
        return {
            "DOUBLE": "double precision",
            "FLOAT": "real",
            "HUGEINT": "numeric(38,0)",
            "UHUGEINT": "numeric(39,0)",
            "UBIGINT": "numeric(20,0)",
            "UINTEGER": "bigint",
            "USMALLINT": "integer",
            "UTINYINT": "smallint",
            "TINYINT": "smallint",
            "BLOB": "bytea",
            "VARCHAR": "text",
            "STRING": "text",
        }.get(t, sql_type)
    if nested:
        return "VARCHAR"
    if t in ("JSONB", "JSON", "XML", "CITEXT", "TSVECTOR", "INET", "CIDR", "MONEY"):
        return "VARCHAR"
    return sql_type


def as_text(value: Any) -> str | None:
    """A result value as a preview shows it: text, or None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    return str(value)


class Warehouse(ABC):
    """One database, reached with one login. Open with `civica.warehouse.open_warehouse`, use,
    then `close()` (or use it as a context manager).

    `run` and `export` execute a script (one or more statements separated by `;`) in one
    session; `interrupt()` may be called from any thread to stop the statement in progress,
    which then raises `Interrupted`."""

    @property
    @abstractmethod
    def display_url(self) -> str:
        """The URL with any password masked, for messages."""

    @abstractmethod
    def check_login(self) -> None:
        """Connect and run `SELECT 1`; raise WarehouseError saying why when that fails."""

    @abstractmethod
    def list_schemas(self) -> list[str]:
        """The names of the user-visible schemas, sorted."""

    @abstractmethod
    def ensure_schema(self, name: str) -> None:
        """Create the schema `name` if it does not exist yet."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection."""

    # -- statements -----------------------------------------------------------------------------

    @abstractmethod
    def run(
        self, sql: str, *, preview_rows: int = MAX_PREVIEW_ROWS, timeout: float | None = None
    ) -> Preview:
        """Run every statement of `sql`; keep the columns and up to `preview_rows` rows of the
        last one. `timeout` (seconds) bounds the whole script."""

    @abstractmethod
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
        """Run every statement of `sql` and write the last one's rows as CSV files
        `folder/<stem>_<n><ext>` with the engine's own bulk path. No files when the last
        statement returns no rows. `preview_rows` > 0 also keeps that many rows as text."""

    @abstractmethod
    def interrupt(self) -> None:
        """Stop the statement in progress (no effect when none runs). Thread-safe."""

    @abstractmethod
    def describe_table(self, schema: str, name: str) -> TableInfo | None:
        """The table or view `schema.name` with its columns, or None when there is none."""

    @abstractmethod
    def list_tables(self, schema: str | None = None, name: str | None = None) -> list[TableInfo]:
        """Tables and views (without columns), optionally only in `schema` / named `name`."""

    def load_csv(
        self,
        path: Path,
        schema: str,
        table: str,
        columns: list[TableColumn],
        existing: str = "fail",
        *,
        timeout: float | None = None,
    ) -> int:
        """Load a CSV file (header row, comma, quoted as needed, NULL as an empty field) into
        `schema.table` with the engine's bulk path, in one transaction; returns the rows loaded.
        A missing table is made from `columns`; an existing one is refused (`existing` "fail"),
        emptied ("truncate"), added to ("append") or made anew ("drop")."""
        return self.load_files([path], schema, table, columns, existing, timeout=timeout).rows

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
        """Load CSV files written as `fmt` says into `schema.table` with the engine's bulk path,
        all in one transaction. `columns` make a missing table (and name the file's columns);
        an existing table is refused (`existing` "fail"), emptied ("truncate"), added to
        ("append") or made anew ("drop"). Rows that cannot be read are skipped up to
        `fmt.max_errors` where the engine can skip them; past that the load fails, keeping
        nothing."""
        raise WarehouseError(
            f"loading files into {self.display_url} is not supported: civica loads into DuckDB "
            "and PostgreSQL databases"
        )

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

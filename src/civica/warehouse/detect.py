"""What a CSV file holds, found the way DuckDB's own reader finds it (`sniff_csv`): compression,
delimiter, header row and column types, as the portable SQL types civica creates tables with.

Detection runs on a private in-memory DuckDB, so it works on any file the worker can read,
whatever database the rows go to next.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from civica.warehouse.base import DELIMITERS, TableColumn, WarehouseError
from civica.warehouse.csvfiles import unzip_first
from civica.warehouse.sqltext import quote_literal

# DuckDB's detected types, as types both DuckDB and PostgreSQL create columns with.
PORTABLE_TYPES = {
    "BOOLEAN": "BOOLEAN",
    "TINYINT": "SMALLINT",
    "SMALLINT": "SMALLINT",
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "HUGEINT": "NUMERIC(38,0)",
    "FLOAT": "REAL",
    "DOUBLE": "DOUBLE PRECISION",
    "DATE": "DATE",
    "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP WITH TIME ZONE",
    "VARCHAR": "VARCHAR",
}
NAMES = {v: k for k, v in DELIMITERS.items()}


@dataclass
class Detected:
    compression: str = "none"
    delimiter: str = ","
    header: bool = True
    columns: list[TableColumn] = field(default_factory=list)

    @property
    def delimiter_name(self) -> str:
        return NAMES.get(self.delimiter, self.delimiter)


def compression_of(path: Path) -> str:
    """gzip, zip or none, from the file's first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    return "none"


def portable_type(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith("DECIMAL"):
        return t.replace("DECIMAL", "NUMERIC")
    return PORTABLE_TYPES.get(t, "VARCHAR")


def detect_csv(
    path: Path,
    *,
    delimiter: str | None = None,
    header: bool | None = None,
    compression: str | None = None,
    whole_file: bool = True,
) -> Detected:
    """Sniff `path`. Given values (`delimiter` as a character, `header`, `compression`) are kept
    and the rest is detected; `whole_file` types columns from every row (else from a sample)."""
    found = Detected(compression=compression or compression_of(path))
    scratch = Path(tempfile.mkdtemp(prefix="civica-detect-"))
    try:
        source = path
        if found.compression == "zip":
            source = scratch / "member.csv"
            unzip_first(path, source)
        codec = "gzip" if found.compression == "gzip" else "none"
        options = [f"compression = {quote_literal(codec)}"]
        if delimiter is not None:
            options.append(f"delim = {quote_literal(delimiter)}")
        if header is not None:
            options.append(f"header = {'true' if header else 'false'}")
        if whole_file:
            options.append("sample_size = -1")
        conn = duckdb.connect(config={"threads": max(1, min(4, os.cpu_count() or 1))})
        try:
            row = conn.execute(
                "SELECT Delimiter, HasHeader, Columns FROM sniff_csv("
                f"{quote_literal(str(source))}, {', '.join(options)})"
            ).fetchone()
        except duckdb.Error as exc:
            raise WarehouseError(
                f"the file could not be read as CSV: {str(exc).splitlines()[0]}"
            ) from None
        finally:
            with contextlib.suppress(duckdb.Error):
                conn.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if row is None:
        raise WarehouseError("the file could not be read as CSV")
    found.delimiter = delimiter or str(row[0])
    found.header = bool(row[1]) if header is None else header
    found.columns = [
        TableColumn(name=str(c["name"]), sql_type=portable_type(str(c["type"])), order=i)
        for i, c in enumerate(row[2] or [], 1)
    ]
    return found

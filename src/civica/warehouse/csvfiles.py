"""Writing CSV files for exports: compression (gzip, zip, none) and splitting into parts.

Engines hand over whole rows of CSV text (PostgreSQL's COPY sends one row per message), so a
part is only ever cut between rows, never inside a quoted field that spans lines.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from civica.warehouse.base import CsvFormat, Export, WarehouseError, as_text

GZIP_LEVEL = 6
FETCH_BATCH = 10_000
BUFFER = 1024 * 1024


def part_path(folder: Path, stem: str, fmt: CsvFormat, index: int | None) -> Path:
    name = stem if index is None else f"{stem}_{index}"
    return folder / f"{name}{fmt.extension}"


class _Sink:
    """One output file, compressed as asked."""

    def __init__(self, path: Path, fmt: CsvFormat) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._raw: IO[bytes] | None = None
        self.out: IO[bytes]
        if fmt.compression == "gzip":
            self._raw = open(path, "wb")  # noqa: SIM115 - closed in close()
            self.out = gzip.GzipFile(  # type: ignore[assignment]
                fileobj=self._raw, mode="wb", compresslevel=GZIP_LEVEL
            )
        elif fmt.compression == "zip":
            self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
            inner = path.name.removesuffix(".zip")
            self.out = self._zip.open(inner, "w", force_zip64=True)
        else:
            self.out = open(path, "wb")  # noqa: SIM115 - closed in close()

    def close(self) -> None:
        self.out.close()
        if self._zip is not None:
            self._zip.close()
        if self._raw is not None:
            self._raw.close()


class PartWriter:
    """Writes CSV rows (bytes, whole rows per call) to one file or, when `fmt.max_part_bytes`
    is set, to numbered parts of at most that many uncompressed bytes (a part holds at least
    one row). Each part starts with `header` when given."""

    def __init__(self, folder: Path, stem: str, fmt: CsvFormat, header: bytes | None) -> None:
        self.folder = folder
        self.stem = stem
        self.fmt = fmt
        self.header = header
        self.files: list[Path] = []
        self._sink: _Sink | None = None
        self._size = 0
        self._pending: list[bytes] = []
        self._pending_size = 0

    def _open(self) -> _Sink:
        index = len(self.files) if self.fmt.max_part_bytes else None
        sink = _Sink(part_path(self.folder, self.stem, self.fmt, index), self.fmt)
        self.files.append(sink.path)
        self._size = 0
        if self.header is not None:
            sink.out.write(self.header)
            self._size = len(self.header)
        return sink

    def write(self, rows: bytes) -> None:
        limit = self.fmt.max_part_bytes
        if self._sink is None:
            self._sink = self._open()
        elif (
            limit
            and self._size + self._pending_size + len(rows) > limit
            and (self._size + self._pending_size > len(self.header or b""))
        ):
            self._flush()
            self._sink.close()
            self._sink = self._open()
        self._pending.append(rows)
        self._pending_size += len(rows)
        if self._pending_size >= BUFFER:
            self._flush()

    def _flush(self) -> None:
        if self._pending and self._sink is not None:
            self._sink.out.write(b"".join(self._pending))
            self._size += self._pending_size
        self._pending = []
        self._pending_size = 0

    def close(self) -> list[Path]:
        """Finish the last file; with no rows at all, one file holding only the header."""
        if self._sink is None:
            self._sink = self._open()
        self._flush()
        self._sink.close()
        self._sink = None
        return self.files


def _line(values: Sequence[Any], fmt: CsvFormat) -> str:
    if fmt.quoted:
        buf = io.StringIO()
        csv.writer(buf, delimiter=fmt.delimiter, lineterminator="\n").writerow(values)
        return buf.getvalue()
    return fmt.delimiter.join("" if v is None else str(v) for v in values) + "\n"


def header_line(names: Sequence[str], fmt: CsvFormat) -> bytes:
    return _line(names, fmt).encode("utf-8")


def write_rows(writer: PartWriter, batches: Iterable[Sequence[Sequence[Any]]]) -> int:
    """Rows fetched through a driver cursor, as CSV: the fallback for statements the engine
    cannot COPY (SHOW, EXPLAIN, ...) and for engines without a bulk export path."""
    count = 0
    fmt = writer.fmt
    for batch in batches:
        if fmt.quoted:
            buf = io.StringIO()
            out = csv.writer(buf, delimiter=fmt.delimiter, lineterminator="\n")
            out.writerows([["" if v is None else v for v in row] for row in batch])
            text = buf.getvalue()
        else:
            text = "".join(_line(row, fmt) for row in batch)
        count += len(batch)
        writer.write(text.encode("utf-8"))
    return count


def export_cursor(
    export: Export,
    cursor: Any,
    writer: PartWriter,
    preview_rows: int,
    check_stop: Callable[[], None],
) -> Export:
    """Write the rows of an executed driver cursor through `writer`, in batches, keeping the
    first `preview_rows` as the preview; fills in and returns `export`."""
    first: list[Any] = []

    def batches() -> Iterator[Sequence[Any]]:
        while True:
            check_stop()
            batch = cursor.fetchmany(FETCH_BATCH)
            if not batch:
                return
            if len(first) < preview_rows:
                first.extend(batch[: preview_rows - len(first)])
            yield batch

    export.rows = write_rows(writer, batches())
    export.files = writer.close()
    export.preview = [[as_text(v) for v in row] for row in first]
    return export


def zip_file(source: Path, target: Path) -> None:
    """`source` (a plain file) as the only member of the zip archive `target`."""
    with (
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(target.name.removesuffix(".zip"), "w", force_zip64=True) as out,
        open(source, "rb") as src,
    ):
        shutil.copyfileobj(src, out, BUFFER)
    source.unlink(missing_ok=True)


def unzip_first(archive: Path, target: Path) -> None:
    """The first file in the zip archive `archive`, written to `target`."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if not members:
                raise WarehouseError(f"the zip archive {archive.name} holds no file")
            with zf.open(members[0]) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, BUFFER)
    except zipfile.BadZipFile:
        raise WarehouseError(
            f"{archive.name} is not a zip archive; set compression to gzip or none"
        ) from None


def open_plain(path: Path, compression: str) -> IO[bytes]:
    """`path`'s uncompressed bytes as a stream (gzip and zip read as they go)."""
    if compression == "gzip":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    if compression == "zip":
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise WarehouseError(
                f"{path.name} is not a zip archive; set compression to gzip or none"
            ) from None
        members = [m for m in zf.infolist() if not m.is_dir()]
        if not members:
            raise WarehouseError(f"the zip archive {path.name} holds no file")
        return zf.open(members[0])
    return open(path, "rb")

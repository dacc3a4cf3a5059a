"""Runs that move files into tables, inside the worker: file imports (`/imports/files`, the
`AutoImport` kind of import), batch imports, CSV imports, and CSV preprocess jobs.

The files' bytes come from the object store (a path on the local store; a download from S3),
their format is detected where the caller left it open (civica.warehouse.detect, DuckDB's own
sniffer), and the rows go in through the destination engine's bulk path
(`Warehouse.load_files`: DuckDB `COPY ... FROM`, PostgreSQL `COPY ... FROM STDIN`), all files of
a run in one transaction, so a failed run leaves the table as it was.
"""

from __future__ import annotations

import codecs
import json
import shutil
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from civica.db.models import FileRow, JobRow, RunOutputRow
from civica.services.errors import BadRequest, NotFound, ServiceError
from civica.storage import LocalStore, file_store
from civica.warehouse import Interrupted, TableColumn, WarehouseError, open_warehouse
from civica.warehouse.base import DELIMITERS, CsvLoad
from civica.warehouse.detect import Detected, compression_of, detect_csv

if TYPE_CHECKING:
    from civica.execution.runner import Runner
    from civica.execution.sql import Endpoint

CHUNK = 1024 * 1024
FILE_KINDS = frozenset({"batch_import", "csv_import"})


def is_file_import(job: JobRow) -> bool:
    return job.kind in FILE_KINDS or (job.config or {}).get("sync_type") == "AutoImport"


# --- files from the object store ---------------------------------------------------------------


@dataclass
class Source:
    file_id: int
    name: str
    storage_key: str
    store: str


def _readable(
    session: Any, actor: Any, platform: Any, file_id: int, complete: bool, write: bool = False
) -> Source:
    """A file the run's owner can read (or change, with `write`), with contents; `complete`
    joins a pending one-part upload first (what `POST /imports/files` handed out)."""
    from civica.services import files
    from civica.services.permissions import Level, load

    try:
        row: FileRow = load(
            session, actor, files.FILE, file_id, Level.WRITE if write else Level.READ
        )
    except NotFound:
        raise BadRequest(f"file {file_id} is gone, or its owner can no longer read it") from None
    store = file_store(platform)
    files._refresh_pending(platform, store, row)  # a direct upload to S3 shows up only there
    if complete and row.state == files.PENDING and row.multipart_upload_id:
        try:
            files.complete_multipart_file(
                session=session, actor=actor, platform=platform, file_id=file_id
            )
        except BadRequest:
            raise BadRequest(
                f"file {file_id} was not uploaded: PUT the file to the uploadUri that POST "
                "/imports/files returned, then POST to its runUri again"
            ) from None
        session.refresh(row)
    if complete and row.state == files.PENDING:
        raise BadRequest(
            f"file {file_id} was not uploaded: send it to the uploadUri that POST /imports/files "
            "returned, then POST to its runUri again"
        )
    _, why = files._unreadable_reason(row, store.kind, files._now())
    if why is not None:
        raise BadRequest(why)
    return Source(file_id=row.id, name=row.name, storage_key=row.storage_key, store=row.store)


def local_copy(platform: Any, source: Source, folder: Path, number: int) -> Path:
    """The file's bytes as a local path: the local store's own file, or a download (S3)."""
    store = file_store(platform)
    if isinstance(store, LocalStore):
        return store.path(source.storage_key)
    from civica.services.files import content_type_for

    url = store.download_url(
        source.storage_key,
        filename=source.name,
        content_type=content_type_for(source.name),
        inline=False,
        expires_at=datetime.now(UTC) + timedelta(hours=12),
        base_url="",
    )
    target = folder / f"source_{number}"
    with httpx.stream("GET", url, timeout=600) as response, open(target, "wb") as out:
        response.raise_for_status()
        for chunk in response.iter_bytes(CHUNK):
            out.write(chunk)
    return target


# --- the run's plan --------------------------------------------------------------------------


@dataclass
class FilePlan:
    label: str
    destination: Endpoint
    schema: str
    table: str
    sources: list[Source]
    existing: str
    delimiter: str | None
    header: bool | None
    compression: str | None
    escaped: bool = False
    max_errors: int = 0
    columns: list[TableColumn] = field(default_factory=list)


def _file_plan(runner: Runner) -> FilePlan | None:
    from civica.execution.sql import _endpoint

    platform = runner.platform
    with platform.transaction() as session:
        claim = runner.claimed(session)
        if claim is None:
            return None
        job, actor = claim.job, claim.actor
        config = dict(job.config or {})
        auto = config.get("sync_type") == "AutoImport"
        ids = [int(config["file_id"])] if auto else [int(i) for i in config.get("file_ids") or []]
        sources = [_readable(session, actor, platform, i, auto) for i in ids]
        delimiter = config.get("column_delimiter")
        columns = [
            TableColumn(name=str(c["name"]), sql_type=str(c["sql_type"]), order=i)
            for i, c in enumerate(config.get("table_columns") or [], 1)
            if c.get("sql_type")
        ]
        return FilePlan(
            label={"batch_import": "batch import", "csv_import": "CSV import"}.get(
                job.kind, "file import"
            ),
            destination=_endpoint(session, runner, actor, config.get("destination") or {}),
            schema=str(config["schema"]),
            table=str(config["table"]),
            sources=sources,
            existing=str(config.get("existing_table_rows") or "fail"),
            delimiter=DELIMITERS[delimiter] if delimiter else None,
            header=config.get("first_row_is_header"),
            compression=config.get("compression"),
            escaped=bool(config.get("escaped")),
            max_errors=int(config.get("max_errors") or 0),
            columns=columns,
        )


class _Watch:
    """Interrupts the warehouse in use when the run is cancelled."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.current: list[Any] = []
        self.stop = threading.Event()
        threading.Thread(
            target=self._watch, name=f"civica-load-{runner.run_id}", daemon=True
        ).start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            if self.runner.control.cancel.wait(0.1):
                for wh in list(self.current):
                    wh.interrupt()
                return


def _column_names(detected: Detected) -> list[TableColumn]:
    if detected.header:
        return detected.columns
    return [
        TableColumn(name=f"column_{c.order}", sql_type=c.sql_type, order=c.order)
        for c in detected.columns
    ]


def execute_file_import(runner: Runner, workdir: Path) -> str:
    try:
        plan = _file_plan(runner)
    except ServiceError as exc:
        return runner._end("failed", exc.description, None)
    if plan is None:
        return ""
    dest = plan.destination
    secrets = [p for p in (dest.password,) if p and len(p) >= 4]

    def masked(message: str) -> str:
        for secret in secrets:
            message = message.replace(secret, "********")
        return message

    workdir.mkdir(parents=True, exist_ok=True)
    watch = _Watch(runner)
    try:
        paths = [local_copy(runner.platform, s, workdir, n) for n, s in enumerate(plan.sources, 1)]
        compression = plan.compression or compression_of(paths[0])
        timeout = runner.platform.settings.max_run_seconds or None
        with open_warehouse(dest.url, dest.username, dest.password) as wh:
            watch.current[:] = [wh]
            if dest.embedded:
                wh.ensure_schema("public")
            exists = bool(wh.list_tables(plan.schema, plan.table))
            need_columns = not plan.columns and (not exists or plan.existing == "drop")
            delimiter, header, columns = plan.delimiter, plan.header, plan.columns
            if delimiter is None or header is None or need_columns:
                detected = detect_csv(
                    paths[0],
                    delimiter=delimiter,
                    header=header,
                    compression=compression,
                    whole_file=need_columns,
                )
                delimiter, header = detected.delimiter, detected.header
                columns = columns or _column_names(detected)
                runner.log(
                    f"Detected a {detected.delimiter_name}-delimited file "
                    + ("with" if header else "without")
                    + f" a header row, compression {compression}, "
                    f"{len(detected.columns)} column(s).",
                )
            if plan.max_errors and dest.url.get_backend_name() != "duckdb":
                runner.log(
                    f"max_errors does not apply to {dest.name}: its COPY cannot skip rows, so the "
                    "first unreadable row fails the import.",
                    "warn",
                )
            fmt = CsvLoad(
                header=bool(header),
                delimiter=delimiter,
                compression=compression,
                escaped=plan.escaped,
                max_errors=plan.max_errors,
            )
            loaded = wh.load_files(
                paths, plan.schema, plan.table, columns, plan.existing, fmt, timeout=timeout
            )
        for line in loaded.rejects:
            runner.log(f"Skipped {line}", "warn")
        skipped = f"; skipped {loaded.rejected} unreadable row(s)" if loaded.rejected else ""
        runner.log(
            f"Loaded {loaded.rows} row(s) from {len(paths)} file(s) into {dest.name} "
            f"{plan.schema}.{plan.table}{skipped}.",
        )
    except Interrupted as exc:
        if runner.control.cancel.is_set():
            outcome = runner._stopped_outcome()
            return runner._end(outcome[0], outcome[1], None)
        return runner._end("failed", masked(str(exc)), None)
    except WarehouseError as exc:
        return runner._end("failed", masked(str(exc)), None)
    except httpx.HTTPError as exc:
        return runner._end("failed", f"reading a file from the store failed: {exc}", None)
    finally:
        watch.stop.set()
    if runner.control.cancel.is_set():
        outcome = runner._stopped_outcome()
        return runner._end(outcome[0], outcome[1], None)
    return runner._end("succeeded", None, None)


# --- CSV preprocess ----------------------------------------------------------------------------


def _utf8_copy(source: Path, target: Path, force: bool) -> bool:
    """Copy `source` to `target` as UTF-8: as it is when it already is valid UTF-8; else, when
    `force`, read as Windows-1252 and converted. Returns whether it was converted."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid = True
    with open(source, "rb") as fh:
        while chunk := fh.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                valid = False
                break
        if valid:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                valid = False
    if valid:
        shutil.copyfile(source, target)
        return False
    if not force:
        raise WarehouseError(
            "the file is not valid UTF-8; set force_character_set_conversion to true to "
            "convert it (it is then read as Windows-1252)"
        )
    with (
        open(source, encoding="cp1252", errors="replace", newline="") as src,
        open(target, "w", encoding="utf-8", newline="") as out,
    ):
        shutil.copyfileobj(src, out, CHUNK)
    return True


def execute_preprocess(runner: Runner, workdir: Path) -> str:
    from civica.services.sql import file_row, store_file

    platform = runner.platform
    try:
        with platform.transaction() as session:
            claim = runner.claimed(session)
            if claim is None:
                return ""
            job, actor = claim.job, claim.actor
            config = dict(job.config or {})
            source = _readable(
                session, actor, platform, int(config["file_id"]), False, bool(config["in_place"])
            )
            owner_id = job.owner_id
    except ServiceError as exc:
        return runner._end("failed", exc.description, None)
    delimiter = config.get("column_delimiter")
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        path = local_copy(platform, source, workdir, 1)
        compression = compression_of(path)
        output = path
        if not config.get("in_place"):
            output = workdir / source.name
            if compression == "none":
                if _utf8_copy(path, output, bool(config.get("force_character_set_conversion"))):
                    runner.log("The file was not UTF-8: converted it from Windows-1252.")
            else:
                shutil.copyfile(path, output)
        detected = detect_csv(
            output,
            delimiter=DELIMITERS[delimiter] if delimiter else None,
            header=config.get("include_header"),
            compression=compression,
            whole_file=bool(config.get("detect_table_columns")),
        )
    except WarehouseError as exc:
        return runner._end("failed", str(exc), None)
    except (OSError, httpx.HTTPError) as exc:
        return runner._end("failed", f"reading file {source.file_id} failed: {exc}", None)
    info = {
        "include_header": detected.header,
        "column_delimiter": detected.delimiter_name,
        "compression": compression,
        "table_columns": (
            [{"name": c.name, "sql_type": c.sql_type} for c in _column_names(detected)]
            if config.get("detect_table_columns")
            else None
        ),
    }
    stored = None
    if output is not path:
        from civica.execution.runner import api_url

        stored = store_file(platform, owner_id, output, source.name, api_url(platform) or "")
    with platform.transaction() as session:
        if stored is None:
            target = session.get(FileRow, source.file_id)
        else:
            target = file_row(session, platform, owner_id, stored[0], stored[1], source.name)
        if target is None:
            return runner._end("failed", f"file {source.file_id} is gone", None)
        target.detected_info = json.dumps(info)
        session.add(
            RunOutputRow(
                run_id=runner.run_id, object_type="File", object_id=target.id, name=target.name
            )
        )
        made = target.id
    runner.log(
        f"File {source.file_id}: {detected.delimiter_name}-delimited, "
        + ("with" if detected.header else "without")
        + f" a header row, compression {compression}, {len(detected.columns)} column(s)"
        + (f"; the cleaned copy is file {made}." if stored else "."),
    )
    return runner._end("succeeded", None, None)

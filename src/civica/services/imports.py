"""Imports: `Dbsync` jobs that copy tables between databases (the public client's
`civis.io.transfer_table`). An import is a job (kind `import`) with a source and a destination
database and a list of syncs (`schema.table` to `schema.table`); each run copies every sync
through the warehouse layer's bulk paths (COPY out to a CSV file, COPY in)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from civica.db.models import BatchImportRow, CsvImportRow, FileRow, ImportRow, JobRow, RunRow
from civica.platform import Platform
from civica.schemas.common import archived_label
from civica.schemas.imports import (
    BatchImport,
    BatchImportCreate,
    CsvImport,
    CsvImportCreate,
    CsvImportRun,
    FileImportCreate,
    FileImportPost,
    Import,
    ImportCreate,
    ImportRun,
    ImportRunCreated,
    ImportSummary,
    Sync,
    SyncCreate,
)
from civica.schemas.jobs import RunCancelled
from civica.services.actor import Actor
from civica.services.databases import check_client_address, load_database
from civica.services.errors import BadRequest, NotFound
from civica.services.jobs import JOB, JOB_TYPES, check_parent, job_state, last_runs, run_brief
from civica.services.kinds import ObjectKind
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, level_of, load, visible_filter
from civica.services.runs import (
    RunnableKind,
    cancel_live_run,
    check_config_addresses,
    load_job,
    run_view,
    start_run,
)
from civica.services.schedules import apply_schedule, time_zone_of
from civica.services.users import user_blocks
from civica.storage import file_store, new_key
from civica.warehouse.base import DELIMITERS, EXISTING_TABLE_ROWS

ORDERS = ("updated_at", "name", "created_at")
SYNC_TYPES = ("Dbsync",)
JOB_TYPES.setdefault("import", "JobTypes::Import")
_PART = re.compile(r'\s*(?:"((?:[^"]|"")*)"|([^."]+))\s*')


def parse_table_path(path: str | None, where: str) -> tuple[str, str]:
    """`schema.table` (parts may be double-quoted) as (schema, table); `table` alone is in
    public."""
    text = (path or "").strip()
    parts: list[str] = []
    i = 0
    while i < len(text):
        match = _PART.match(text, i)
        if match is None or match.end() == i:
            break
        parts.append(
            match.group(1).replace('""', '"')
            if match.group(1) is not None
            else match.group(2).strip()
        )
        i = match.end()
        if i < len(text):
            if text[i] != ".":
                break
            i += 1
    else:
        if len(parts) == 1 and parts[0]:
            return "public", parts[0]
        if len(parts) == 2 and all(parts):
            return parts[0], parts[1]
    raise BadRequest(
        f'{where} must be schema.table (quote names with dots: my_schema."my.table"); got {path!r}'
    )


IMPORT_RUNS = RunnableKind(
    path="imports/files",
    label="Import",
    kinds=frozenset({"import"}),
    noun="import",
    run_schema=ImportRun,
    run_field="import_id",
    outputs_writable=False,
)


def _endpoint(session: Session, raw: dict[str, Any] | None) -> dict[str, Any]:
    raw = raw or {}
    database_id = raw.get("remote_host_id")
    name = None
    if database_id is not None:
        try:
            name = load_database(session, int(database_id)).name
        except NotFound:
            name = None
    return {
        "remote_host_id": database_id,
        "credential_id": raw.get("credential_id"),
        "additional_credentials": raw.get("additional_credentials") or [],
        "name": name,
    }


def _syncs(config: dict[str, Any]) -> list[Sync]:
    return [
        Sync.model_validate(
            {
                "id": s["id"],
                "source": {"path": s.get("source")},
                "destination": {"path": s.get("destination")},
                "advanced_options": s.get("advanced_options") or {},
            }
        )
        for s in config.get("syncs") or []
    ]


def import_detail(session: Session, actor: Actor, row: JobRow) -> Import:
    config = dict(row.config or {})
    run = last_runs(session, [row]).get(row.id)
    blocks = user_blocks(session, [row.owner_id])
    return Import.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "source": _endpoint(session, config.get("source")),
            "destination": _endpoint(session, config.get("destination")),
            "sync_type": config.get("sync_type") or "Dbsync",
            "parent_id": row.parent_id,
            "is_outbound": bool(config.get("is_outbound")),
            "job_type": row.type,
            "syncs": _syncs(config),
            "state": job_state(run),
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "last_run": run_brief(run) if run else None,
            "user": blocks[row.owner_id],
            "running_as": blocks[row.owner_id],
            "next_run_at": row.next_run_at,
            "time_zone": time_zone_of(session, row),
            "hidden": row.hidden,
            "archived": archived_label(row.archived),
            "my_permission_level": level_of(session, actor, JOB, row).label,
        }
    )


IMPORT = ObjectKind(
    path="imports",
    object_type=JOB.object_type,
    label="Import",
    row=ImportRow,
    detail=import_detail,
    detail_schema=Import,
    seed_name="JobTypes::Import",
)
ANY_IMPORT = RunnableKind(
    path="imports", label="Import", kinds=frozenset({"import"}), noun="import"
)


def _check_endpoint(session: Session, raw: dict[str, Any] | None, where: str) -> None:
    database_id = (raw or {}).get("remote_host_id")
    if database_id is None:
        return
    try:
        load_database(session, int(database_id))
    except NotFound:
        raise BadRequest(
            f"{where}.remote_host_id {database_id} is not a database; GET /databases lists them"
        ) from None


def _apply(session: Session, row: JobRow, body: ImportCreate, *, replace: bool) -> None:
    if body.sync_type not in SYNC_TYPES:
        raise BadRequest(
            f"sync_type must be one of {', '.join(SYNC_TYPES)} (database to database); "
            f"got {body.sync_type!r}"
        )
    name = body.name.strip()
    if not name:
        raise BadRequest("name cannot be empty")
    dumped = body.model_dump(mode="json")
    given = body.given()
    config = {} if replace else dict(row.config or {})
    for key in ("sync_type", "is_outbound", "source", "destination", "schedule", "notifications",
                "next_run_at", "time_zone"):  # fmt: skip
        if key in given or key in ("sync_type", "is_outbound"):
            config[key] = dumped[key]
    for key in ("source", "destination"):
        _check_endpoint(session, config.get(key), key)
    config.setdefault("syncs", (row.config or {}).get("syncs") or [])
    config.setdefault("next_sync_id", (row.config or {}).get("next_sync_id") or 1)
    row.name = name
    if "hidden" in given:
        row.hidden = bool(given["hidden"])
    if "parent_id" in given or replace:
        row.parent_id = body.parent_id
    row.config = config
    apply_schedule(session, row)


def create_import(*, session: Session, actor: Actor, body: ImportCreate) -> Import:
    row = ImportRow(owner_id=actor.user_id, type=JOB_TYPES["import"], name="", config={})
    check_parent(session, actor, row, body.parent_id)
    _apply(session, row, body, replace=True)
    session.add(row)
    session.flush()
    return import_detail(session, actor, row)


def _load(session: Session, actor: Actor, import_id: int, level: Level) -> JobRow:
    return load_job(session, actor, ANY_IMPORT, import_id, level)


def get_import(*, session: Session, actor: Actor, import_id: int) -> Import:
    return import_detail(session, actor, _load(session, actor, import_id, Level.READ))


def replace_import(*, session: Session, actor: Actor, import_id: int, body: ImportCreate) -> Import:
    row = _load(session, actor, import_id, Level.WRITE)
    if (row.config or {}).get("sync_type") == "AutoImport":
        raise BadRequest(
            f"import {import_id} imports an uploaded file and cannot become a {body.sync_type}; "
            "create a new import with POST /imports instead"
        )
    check_parent(session, actor, row, body.parent_id)
    _apply(session, row, body, replace=True)
    session.flush()
    return import_detail(session, actor, row)


def list_imports(
    *,
    session: Session,
    actor: Actor,
    page: PageParams,
    type: str | None = None,
    author: str | None = None,
    destination: str | None = None,
    status: str | None = None,
    hidden: bool | None = None,
    archived: str | None = None,
) -> Page[ImportSummary]:
    from civica.services.objects import archived_filter, id_list

    conds: list[ColumnElement[bool]] = [
        JobRow.kind == "import",
        visible_filter(actor, JOB),
        JobRow.hidden.is_(bool(hidden)),
    ]
    arch = archived_filter(JOB, archived)
    if arch is not None:
        conds.append(arch)
    if author:
        conds.append(JobRow.owner_id.in_(id_list("author", author, "user ids")))
    total = session.scalar(select(func.count()).select_from(JobRow).where(*conds)) or 0
    column = getattr(JobRow, page.order)
    asc = page.order_dir == "asc"
    rows = session.scalars(
        select(JobRow)
        .where(*conds)
        .order_by(
            column.asc() if asc else column.desc(), JobRow.id.asc() if asc else JobRow.id.desc()
        )
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    runs = last_runs(session, rows)
    blocks = user_blocks(session, {r.owner_id for r in rows})
    items = [
        ImportSummary.model_validate(
            {
                "id": r.id,
                "name": r.name,
                "sync_type": (r.config or {}).get("sync_type") or "Dbsync",
                "is_outbound": bool((r.config or {}).get("is_outbound")),
                "job_type": r.type,
                "state": job_state(runs.get(r.id)),
                "created_at": r.created_at,
                "updated_at": r.updated_at,
                "last_run": run_brief(runs[r.id]) if r.id in runs else None,
                "user": blocks[r.owner_id],
                "time_zone": (r.config or {}).get("time_zone") or "UTC",
                "archived": archived_label(r.archived),
            }
        )
        for r in rows
    ]
    return Page(items=items, total=total, params=page)


def _sync_entry(sync_id: int, body: SyncCreate) -> dict[str, Any]:
    source = body.source.path
    destination = body.destination.path
    options = {
        k: v
        for k, v in (body.advanced_options.model_dump() if body.advanced_options else {}).items()
        if v is not None
    }
    if not options.get("sql_query"):
        parse_table_path(source, "source.path")
    parse_table_path(destination, "destination.path")
    existing = options.get("existing_table_rows")
    if existing is not None and existing not in EXISTING_TABLE_ROWS:
        raise BadRequest(
            "advanced_options.existing_table_rows must be one of "
            f"{', '.join(EXISTING_TABLE_ROWS)}; got {existing!r}"
        )
    return {
        "id": sync_id,
        "source": source,
        "destination": destination,
        "advanced_options": options,
    }


def create_sync(*, session: Session, actor: Actor, import_id: int, body: SyncCreate) -> Sync:
    row = _load(session, actor, import_id, Level.WRITE)
    config = dict(row.config or {})
    sync_id = int(config.get("next_sync_id") or 1)
    entry = _sync_entry(sync_id, body)
    config["syncs"] = [*(config.get("syncs") or []), entry]
    config["next_sync_id"] = sync_id + 1
    row.config = config
    session.flush()
    return _syncs({"syncs": [entry]})[0]


def update_sync(
    *, session: Session, actor: Actor, import_id: int, sync_id: int, body: SyncCreate
) -> Sync:
    row = _load(session, actor, import_id, Level.WRITE)
    config = dict(row.config or {})
    syncs = list(config.get("syncs") or [])
    for i, s in enumerate(syncs):
        if s["id"] == sync_id:
            syncs[i] = _sync_entry(sync_id, body)
            config["syncs"] = syncs
            row.config = config
            session.flush()
            return _syncs({"syncs": [syncs[i]]})[0]
    raise NotFound(f"sync {sync_id} of import {import_id} not found")


def delete_sync(*, session: Session, actor: Actor, import_id: int, sync_id: int) -> None:
    row = _load(session, actor, import_id, Level.WRITE)
    config = dict(row.config or {})
    syncs = list(config.get("syncs") or [])
    kept = [s for s in syncs if s["id"] != sync_id]
    if len(kept) == len(syncs):
        raise NotFound(f"sync {sync_id} of import {import_id} not found")
    config["syncs"] = kept
    row.config = config


def run_import(
    *, session: Session, actor: Actor, import_id: int, client_ip: str | None = None
) -> ImportRunCreated:
    row = _load(session, actor, import_id, Level.WRITE)
    config = row.config or {}
    check_config_addresses(session, config, client_ip)
    if config.get("sync_type") == "AutoImport":
        return ImportRunCreated(run_id=start_run(session, actor, row).id)
    if not config.get("syncs"):
        raise BadRequest(
            f"import {import_id} has no syncs; add one with POST /imports/{import_id}/syncs"
        )
    for key in ("source", "destination"):
        if not (config.get(key) or {}).get("remote_host_id"):
            raise BadRequest(f"import {import_id} has no {key} database: set {key}.remote_host_id")
    run = start_run(session, actor, row)
    return ImportRunCreated(run_id=run.id)


def list_import_runs(*, session: Session, actor: Actor, import_id: int) -> list[BaseModel]:
    _load(session, actor, import_id, Level.READ)
    rows = session.scalars(
        select(RunRow).where(RunRow.job_id == import_id).order_by(RunRow.id.desc()).limit(100)
    ).all()
    return [run_view(IMPORT_RUNS, r) for r in rows]


def cancel_import(*, session: Session, actor: Actor, import_id: int) -> RunCancelled:
    row = load_job(session, actor, ANY_IMPORT_RUN, import_id, Level.WRITE)
    run = session.scalar(
        select(RunRow)
        .where(RunRow.job_id == row.id, RunRow.state.in_(("queued", "running")))
        .order_by(RunRow.id.desc())
        .limit(1)
    )
    if run is None:
        raise NotFound(f"import {import_id} has no queued or running run to cancel")
    run = cancel_live_run(session, actor, run.id)
    return RunCancelled(id=run.id, state=run.state, is_cancel_requested=run.is_cancel_requested)


# --- file imports: one uploaded file (`/imports/files`), batches, CSV imports ---------------------

JOB_TYPES.setdefault("batch_import", "JobTypes::BatchImport")
JOB_TYPES.setdefault("csv_import", "JobTypes::CsvImport")
BATCH_ORDERS = ("updated_at", "created_at")
COMPRESSIONS = ("gzip", "zip", "none")
CSV_IMPORT_RUNS = RunnableKind(
    path="imports/files/csv",
    label="CSV import",
    kinds=frozenset({"csv_import"}),
    noun="CSV import",
    run_schema=CsvImportRun,
    run_field="csv_import_id",
    outputs_writable=False,
)
# Every import kind, for cancelling their runs through `/imports/{id}/cancel`.
ANY_IMPORT_RUN = RunnableKind(
    path="imports",
    label="Import",
    kinds=frozenset({"import", "batch_import", "csv_import"}),
    noun="import",
)


def _delimiter(value: str | None, where: str = "column_delimiter") -> str | None:
    if value is None:
        return None
    if value not in DELIMITERS:
        raise BadRequest(f'{where} must be "comma", "tab" or "pipe"; got {value!r}')
    return value


def _existing(value: str | None) -> str:
    value = value or "fail"
    if value not in EXISTING_TABLE_ROWS:
        raise BadRequest(
            f"existing_table_rows must be one of {', '.join(EXISTING_TABLE_ROWS)}; got {value!r}"
        )
    return value


def _max_errors(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise BadRequest(f"max_errors must be 0 or more; got {value}")
    return value


def _compression(value: str | None, default: str) -> str:
    value = value or default
    if value not in COMPRESSIONS:
        raise BadRequest(f'compression must be "gzip", "zip" or "none"; got {value!r}')
    return value


def _table_name(value: str, where: str) -> str:
    text = value.strip()
    if not text:
        raise BadRequest(f"{where} cannot be empty")
    return text


def start_import_run(
    *,
    session: Session,
    actor: Actor,
    rkind: RunnableKind,
    job_id: int,
    client_ip: str | None = None,
) -> BaseModel:
    """`POST /imports/files/{id}/runs` and `/imports/files/csv/{id}/runs`: a run, once the
    caller's address passes the databases' whitelists."""
    row = load_job(session, actor, rkind, job_id, Level.WRITE)
    check_config_addresses(session, row.config or {}, client_ip)
    return run_view(rkind, start_run(session, actor, row))


def _destination(
    session: Session,
    actor: Actor,
    remote_host_id: int | None,
    credential_id: int | None,
    client_ip: str | None = None,
) -> dict[str, Any]:
    """The destination database (400 when there is none with that id; 403 when its whitelist
    refuses the caller's address) and the credential to reach it with (resolved as SQL runs
    resolve theirs)."""
    from civica.services.sql import resolve_credential

    if remote_host_id is None:
        raise BadRequest("destination.remote_host_id is required: GET /databases lists them")
    try:
        database = load_database(session, int(remote_host_id))
    except NotFound:
        raise BadRequest(
            f"remote_host_id {remote_host_id} is not a database; GET /databases lists them"
        ) from None
    check_client_address(session, database, client_ip)
    return {
        "remote_host_id": database.id,
        "credential_id": resolve_credential(session, actor, database, credential_id),
    }


def _readable_files(session: Session, actor: Actor, file_ids: list[int]) -> list[int]:
    from civica.services.files import FILE

    if not file_ids:
        raise BadRequest("file_ids must name at least one file")
    for file_id in file_ids:
        try:
            load(session, actor, FILE, file_id, Level.READ)
        except NotFound:
            raise BadRequest(
                f"file {file_id} is not a file you can read; upload it with POST /files"
            ) from None
    return list(file_ids)


def create_file_import(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    body: FileImportCreate,
    base_url: str,
    client_ip: str | None = None,
) -> FileImportPost:
    """An import of one file that is still to be uploaded: a pending file with its upload URL,
    and an `AutoImport` import whose run loads it (completing the upload first)."""
    from civica.services import files

    schema = _table_name(body.schema_, "schema")
    table = _table_name(body.name, "name")
    config = {
        "sync_type": "AutoImport",
        "is_outbound": False,
        "destination": _destination(
            session, actor, body.remote_host_id, body.credential_id, client_ip
        ),
        "schema": schema,
        "table": table,
        "existing_table_rows": _existing(body.existing_table_rows),
        "max_errors": _max_errors(body.max_errors),
        "column_delimiter": _delimiter(body.column_delimiter),
        "first_row_is_header": body.first_row_is_header,
    }
    store = file_store(platform)
    deadline = datetime.now(UTC) + timedelta(seconds=platform.settings.upload_url_seconds)
    base = files.public_base(platform, base_url)
    upload = FileRow(
        owner_id=actor.user_id,
        name=f"{table}.csv",
        state=files.PENDING,
        store=store.kind,
        storage_key=new_key(),
        expires_at=datetime.now(UTC) + files.DEFAULT_LIFETIME,
    )
    with files.store_errors():
        fields: dict[str, str] | None = None
        if body.multipart:
            form = store.upload_form(
                upload.storage_key,
                expires_at=deadline,
                max_bytes=platform.settings.max_upload_bytes,
                base_url=base,
            )
            uri, fields = form.url, form.fields
        else:  # one part of a multipart upload: a plain PUT; the run joins it
            upload.num_parts = 1
            upload.multipart_upload_id = store.start_multipart(upload.storage_key, 1)
            uri = store.part_upload_url(
                upload.storage_key,
                upload.multipart_upload_id,
                1,
                expires_at=deadline,
                base_url=base,
            )
    session.add(upload)
    session.flush()
    config["file_id"] = upload.id
    row = ImportRow(
        owner_id=actor.user_id,
        type=JOB_TYPES["import"],
        name=f"Import to {schema}.{table}",
        config=config,
        hidden=bool(body.hidden),
    )
    session.add(row)
    session.flush()
    return FileImportPost(
        id=row.id,
        upload_uri=uri,
        run_uri=f"{base}/imports/files/{row.id}/runs",
        upload_fields=fields,
    )


def _batch_view(session: Session, row: JobRow) -> BatchImport:
    config = row.config or {}
    run = last_runs(session, [row]).get(row.id)
    return BatchImport.model_validate(
        {
            "id": row.id,
            "schema": config.get("schema"),
            "table": config.get("table"),
            "remote_host_id": (config.get("destination") or {}).get("remote_host_id"),
            "state": job_state(run),
            "started_at": run.started_at if run else None,
            "finished_at": run.finished_at if run else None,
            "error": run.error if run else None,
            "hidden": row.hidden,
        }
    )


BATCHES = RunnableKind(
    path="imports/batches", label="Batch import", kinds=frozenset({"batch_import"}), noun="batch"
)


def create_batch(
    *, session: Session, actor: Actor, body: BatchImportCreate, client_ip: str | None = None
) -> BatchImport:
    """A batch import, started at once: every file into one table, in one transaction."""
    schema = _table_name(body.schema_, "schema")
    table = _table_name(body.table, "table")
    row = BatchImportRow(
        owner_id=actor.user_id,
        type=JOB_TYPES["batch_import"],
        name=f"Batch import to {schema}.{table}",
        hidden=bool(body.hidden),
        config={
            "file_ids": _readable_files(session, actor, body.file_ids),
            "schema": schema,
            "table": table,
            "destination": _destination(
                session, actor, body.remote_host_id, body.credential_id, client_ip
            ),
            "column_delimiter": _delimiter(body.column_delimiter) or "comma",
            "first_row_is_header": bool(body.first_row_is_header),
            "compression": _compression(body.compression, "gzip"),
            "existing_table_rows": "append",
        },
    )
    session.add(row)
    session.flush()
    start_run(session, actor, row)
    session.flush()
    return _batch_view(session, row)


def get_batch(*, session: Session, actor: Actor, batch_id: int) -> BatchImport:
    return _batch_view(session, load_job(session, actor, BATCHES, batch_id, Level.READ))


def list_batches(
    *, session: Session, actor: Actor, page: PageParams, hidden: bool | None = None
) -> Page[BatchImport]:
    conds: list[ColumnElement[bool]] = [
        JobRow.kind == "batch_import",
        visible_filter(actor, JOB),
        JobRow.hidden.is_(bool(hidden)),
    ]
    total = session.scalar(select(func.count()).select_from(JobRow).where(*conds)) or 0
    column = getattr(JobRow, page.order)
    asc = page.order_dir == "asc"
    rows = session.scalars(
        select(JobRow)
        .where(*conds)
        .order_by(
            column.asc() if asc else column.desc(), JobRow.id.asc() if asc else JobRow.id.desc()
        )
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return Page(items=[_batch_view(session, r) for r in rows], total=total, params=page)


def _csv_view(session: Session, actor: Actor, row: JobRow) -> CsvImport:
    config = row.config or {}
    destination = config.get("destination") or {}
    return CsvImport.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "source": {"file_ids": config.get("file_ids") or []},
            "destination": {
                "schema": config.get("schema"),
                "table": config.get("table"),
                "remote_host_id": destination.get("remote_host_id"),
                "credential_id": destination.get("credential_id"),
            },
            "first_row_is_header": bool(config.get("first_row_is_header")),
            "column_delimiter": config.get("column_delimiter") or "comma",
            "escaped": bool(config.get("escaped")),
            "compression": config.get("compression") or "none",
            "existing_table_rows": config.get("existing_table_rows") or "fail",
            "max_errors": config.get("max_errors"),
            "table_columns": config.get("table_columns") or [],
            "hidden": row.hidden,
            "my_permission_level": level_of(session, actor, JOB, row).label,
        }
    )


def create_csv_import(
    *, session: Session, actor: Actor, body: CsvImportCreate, client_ip: str | None = None
) -> CsvImport:
    """A CSV import (the public client's `civis_file_to_table`); it runs when asked to."""
    if body.source.storage_path is not None and body.source.storage_path.file_paths:
        raise BadRequest(
            "source.storage_path is not supported: civica imports civica files; upload them with "
            "POST /files and send source.file_ids"
        )
    dest = body.destination
    if dest.primary_keys or dest.last_modified_keys or body.execution not in (None, "immediate"):
        raise BadRequest(
            "upserts (destination.primary_keys, last_modified_keys, execution delayed) are not "
            "supported; leave them empty to load rows as they are"
        )
    schema = _table_name(dest.schema_ or "", "destination.schema")
    table = _table_name(dest.table or "", "destination.table")
    columns = []
    for i, col in enumerate(body.table_columns or [], 1):
        if not (col.name or "").strip():
            raise BadRequest(f"table_columns[{i - 1}].name is required")
        columns.append({"name": col.name, "sql_type": col.sql_type})
    typed = [c for c in columns if c["sql_type"]]
    if typed and len(typed) != len(columns):
        raise BadRequest("give every table_columns entry a sql_type, or none of them")
    row = CsvImportRow(
        owner_id=actor.user_id,
        type=JOB_TYPES["csv_import"],
        name=(body.name or "").strip() or f"CSV import to {schema}.{table}",
        hidden=bool(body.hidden),
        config={
            "file_ids": _readable_files(session, actor, body.source.file_ids or []),
            "schema": schema,
            "table": table,
            "destination": _destination(
                session, actor, dest.remote_host_id, dest.credential_id, client_ip
            ),
            "first_row_is_header": body.first_row_is_header,
            "column_delimiter": _delimiter(body.column_delimiter) or "comma",
            "escaped": bool(body.escaped),
            "compression": _compression(body.compression, "none"),
            "existing_table_rows": _existing(body.existing_table_rows),
            "max_errors": _max_errors(body.max_errors),
            "table_columns": columns,
        },
    )
    session.add(row)
    session.flush()
    return _csv_view(session, actor, row)

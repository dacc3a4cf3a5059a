"""Imports: `Dbsync` jobs that copy tables between databases (the public client's
`civis.io.transfer_table`). An import is a job (kind `import`) with a source and a destination
database and a list of syncs (`schema.table` to `schema.table`); each run copies every sync
through the warehouse layer's bulk paths (COPY out to a CSV file, COPY in)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from civica.db.models import ImportRow, JobRow, RunRow
from civica.schemas.common import archived_label
from civica.schemas.imports import (
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
from civica.services.databases import load_database
from civica.services.errors import BadRequest, NotFound
from civica.services.jobs import JOB, JOB_TYPES, job_state, last_runs, run_brief
from civica.services.kinds import ObjectKind
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, level_of, visible_filter
from civica.services.runs import RunnableKind, cancel_live_run, load_job, run_view, start_run
from civica.services.users import user_blocks
from civica.warehouse.base import EXISTING_TABLE_ROWS

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
            "next_run_at": config.get("next_run_at"),
            "time_zone": config.get("time_zone") or "UTC",
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


def create_import(*, session: Session, actor: Actor, body: ImportCreate) -> Import:
    row = ImportRow(owner_id=actor.user_id, type=JOB_TYPES["import"], name="", config={})
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
    from civica.services.objects import archived_filter

    conds: list[ColumnElement[bool]] = [
        JobRow.kind == "import",
        visible_filter(actor, JOB),
        JobRow.hidden.is_(bool(hidden)),
    ]
    arch = archived_filter(JOB, archived)
    if arch is not None:
        conds.append(arch)
    if author:
        try:
            conds.append(JobRow.owner_id.in_([int(a) for a in author.split(",") if a.strip()]))
        except ValueError:
            raise BadRequest(
                f"author must be a comma-separated list of user ids; got {author!r}"
            ) from None
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


def run_import(*, session: Session, actor: Actor, import_id: int) -> ImportRunCreated:
    row = _load(session, actor, import_id, Level.WRITE)
    config = row.config or {}
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
    row = _load(session, actor, import_id, Level.WRITE)
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

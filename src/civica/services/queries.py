"""Queries: SQL run once on a database, with a preview of the result (at most 100 rows, values
as text) and, when CSV options are given, the result as a file among the run's outputs.

A query is a job (kind `query`) and each execution a run, so `/queries/{id}/runs` and
`/jobs/{id}/runs` reach the same runs; `POST /queries` starts the first run at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from civica.db.models import JobRow, QueryRow, RunRow
from civica.platform import Platform
from civica.schemas.common import archived_label
from civica.schemas.jobs import RunBase
from civica.schemas.queries import Query, QueryCreate, QueryRun, QuerySummary
from civica.services.actor import Actor
from civica.services.databases import check_client_address, load_database
from civica.services.errors import BadRequest, NotFound
from civica.services.jobs import JOB, JOB_TYPES, last_runs
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, level_of, visible_filter
from civica.services.runs import RunnableKind, load_job, start_run
from civica.services.sql import csv_settings, resolve_credential
from civica.services.users import user_blocks
from civica.warehouse import MAX_PREVIEW_ROWS

ORDERS = ("created_at",)
CSV_FIELDS = ("include_header", "compression", "column_delimiter", "unquoted", "filename_prefix")
JOB_TYPES.setdefault("query", "JobTypes::Query")

QUERY = RunnableKind(
    path="queries",
    label="Query",
    kinds=frozenset({"query"}),
    noun="query",
    run_schema=QueryRun,
    run_field="query_id",
    outputs_writable=False,
)
assert issubclass(QueryRun, RunBase)


def _state(run: RunRow | None) -> str:
    # A query always has a run (POST starts one); never show "idle" to pollers.
    return run.state if run is not None else "queued"


def _fields(session: Session, row: JobRow, run: RunRow | None) -> dict[str, Any]:
    config = dict(row.config or {})
    result = config.get("result") or {}
    fresh = run is not None and result.get("run_id") == run.id
    failed = run is not None and run.state == "failed"
    error = run.error if failed and run is not None else None
    return {
        "id": row.id,
        "database": int(config.get("remote_host_id") or 0),
        "sql": str(config.get("sql") or ""),
        "credential": config.get("credential_id"),
        "result_rows": result.get("rows") or [] if fresh else [],
        "result_columns": result.get("columns") or [] if fresh else [],
        "error": error,
        "exception": error,
        "started_at": run.started_at if run else None,
        "finished_at": run.finished_at if run else None,
        "state": _state(run),
        "script_id": config.get("script_id"),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "last_run_id": run.id if run else None,
        "archived": archived_label(row.archived),
        "report_id": None,
        "preview_rows": int(config.get("preview_rows") or 0),
    }


def _detail(session: Session, actor: Actor, row: JobRow) -> Query:
    run = session.get(RunRow, row.last_run_id) if row.last_run_id else None
    config = dict(row.config or {})
    settings = csv_settings(config.get("csv_settings"))
    return Query.model_validate(
        {
            **_fields(session, row, run),
            "hidden": row.hidden,
            "name": row.name or None,
            "author": user_blocks(session, [row.owner_id])[row.owner_id],
            "my_permission_level": level_of(session, actor, JOB, row).label,
            "interactive": bool(config.get("interactive")),
            "include_header": settings.include_header,
            "compression": settings.compression,
            "column_delimiter": settings.column_delimiter,
            "unquoted": settings.unquoted,
            "filename_prefix": settings.filename_prefix,
        }
    )


def create_query(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    body: QueryCreate,
    client_ip: str | None = None,
) -> Query:
    from civica.services.credentials import login_for_database

    try:
        database = load_database(session, body.database)
    except NotFound:
        raise BadRequest(
            f"database {body.database} is not a database; GET /databases lists them"
        ) from None
    check_client_address(session, database, client_ip)
    if not body.sql.strip():
        raise BadRequest("sql cannot be empty: send the statements to run")
    if not 0 <= body.preview_rows <= MAX_PREVIEW_ROWS:
        raise BadRequest(
            f"preview_rows must be between 0 and {MAX_PREVIEW_ROWS}; got {body.preview_rows}"
        )
    # Refuse a credential the caller cannot use now rather than in the run.
    login_for_database(
        session=session,
        actor=actor,
        secrets=platform.secrets,
        database=database,
        credential_id=resolve_credential(session, actor, database, body.credential),
    )
    given = body.given()
    raw_csv = {k: given[k] for k in CSV_FIELDS if k in given}
    csv_settings(raw_csv, where="query")
    first_line = body.sql.strip().splitlines()[0][:255]
    row = QueryRow(
        owner_id=actor.user_id,
        type=JOB_TYPES["query"],
        name=first_line,
        hidden=bool(body.hidden),
        config={
            "sql": body.sql,
            "remote_host_id": database.id,
            "credential_id": body.credential,
            "preview_rows": body.preview_rows,
            "interactive": bool(body.interactive),
            "csv": bool(raw_csv),
            "csv_settings": raw_csv,
        },
    )
    session.add(row)
    session.flush()
    start_run(session, actor, row)
    return _detail(session, actor, row)


def get_query(*, session: Session, actor: Actor, query_id: int) -> Query:
    row = load_job(session, actor, QUERY, query_id, Level.READ)
    return _detail(session, actor, row)


def list_queries(
    *,
    session: Session,
    actor: Actor,
    page: PageParams,
    database_id: int | None = None,
    author_id: int | None = None,
    created_before: str | None = None,
    hidden: bool | None = None,
) -> Page[QuerySummary]:
    from datetime import datetime

    conds: list[ColumnElement[bool]] = [
        JobRow.kind == "query",
        visible_filter(actor, JOB),
        JobRow.hidden.is_(bool(hidden)),
        JobRow.archived.is_(False),
    ]
    if author_id is not None:
        conds.append(JobRow.owner_id == author_id)
    if created_before:
        try:
            before = datetime.fromisoformat(created_before.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                "created_before must be an ISO 8601 time such as 2024-05-01T12:00:00Z; "
                f"got {created_before!r}"
            ) from None
        conds.append(JobRow.created_at < before)
    asc = page.order_dir == "asc"
    order: list[Any] = [
        JobRow.created_at.asc() if asc else JobRow.created_at.desc(),
        JobRow.id.asc() if asc else JobRow.id.desc(),
    ]
    if database_id is None:
        total = session.scalar(select(func.count()).select_from(JobRow).where(*conds)) or 0
        rows = list(
            session.scalars(
                select(JobRow).where(*conds).order_by(*order).limit(page.limit).offset(page.offset)
            )
        )
    else:  # the database is in config (JSON): filter here
        every = [
            r
            for r in session.scalars(select(JobRow).where(*conds).order_by(*order))
            if (r.config or {}).get("remote_host_id") == database_id
        ]
        total = len(every)
        rows = every[page.offset : page.offset + page.limit]
    runs = last_runs(session, rows)
    items = [QuerySummary.model_validate(_fields(session, r, runs.get(r.id))) for r in rows]
    return Page(items=items, total=total, params=page)


def put_query_script(*, session: Session, actor: Actor, query_id: int, script_id: int) -> Query:
    from civica.services.scripts import ANY_SCRIPT

    row = load_job(session, actor, QUERY, query_id, Level.WRITE)
    try:
        load_job(session, actor, ANY_SCRIPT, script_id, Level.READ)
    except NotFound:
        raise NotFound(f"script {script_id} not found; GET /scripts lists yours") from None
    row.config = {**dict(row.config or {}), "script_id": script_id}
    session.flush()
    return _detail(session, actor, row)

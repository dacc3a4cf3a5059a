"""Runs, run logs and run outputs of any runnable kind: one service, mounted under `/jobs` and
under each script type by `civica.api.subresources.runs`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from civica.db.models import JobRow, RemoteHostRow, RunLogRow, RunOutputRow, RunRow
from civica.execution import queue
from civica.execution.params import effective_script
from civica.execution.resources import Resources
from civica.execution.runner import DEFAULT_MEMORY_MB
from civica.schemas.jobs import (
    JobRun,
    LogsPage,
    RunBase,
    RunCancelled,
    RunLog,
    RunLogsIn,
    RunOutput,
    RunOutputCreate,
    RunUpdate,
)
from civica.services.actor import Actor
from civica.services.errors import BadRequest, Conflict, NotFound
from civica.services.jobs import JOB
from civica.services.kinds import KINDS
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, load

RUN_ORDERS = ("id",)
OUTPUT_ORDERS = ("created_at", "id")
LOG_LIMIT = 10_000
LEVELS = ("unknown", "fatal", "error", "warn", "info", "debug")
# Output object types as the API names them, and the object kinds they are stored as.
OUTPUT_TYPES = {
    "file": ("File", "file"),
    "table": ("Table", "table"),
    "report": ("Report", "report"),
    "project": ("Project", "project"),
    "credential": ("Credential", "credential"),
    "jsonvalue": ("JSONValue", "json_value"),
    "json_value": ("JSONValue", "json_value"),
}
FINISHED_CACHE = "max-age=86400"


@dataclass(frozen=True)
class RunnableKind:
    """Where runs are reached: `/jobs` (every kind) or one script type (`/scripts/python3`).

    `kinds` are the job kinds reachable under `path` (None: all); `run_schema` adds the kind's
    `<noun>_id` field to runs; `summaries` override the default operation summaries.
    """

    path: str
    label: str
    kinds: frozenset[str] | None
    noun: str
    run_schema: type[BaseModel] = JobRun
    run_field: str | None = None
    summaries: dict[str, str] = field(default_factory=dict)
    post_status: int = 202
    outputs_writable: bool = True
    worker_api: bool = False

    def summary(self, op: str, default: str) -> str:
        return self.summaries.get(op, default)


def load_job(
    session: Session, actor: Actor, rkind: RunnableKind, job_id: int, level: Level
) -> JobRow:
    row: JobRow = load(session, actor, JOB, job_id, level)
    if rkind.kinds is not None and row.kind not in rkind.kinds:
        raise NotFound(f"{rkind.label} {job_id} not found")
    return row


def _load_run(
    session: Session, actor: Actor, rkind: RunnableKind, job_id: int, run_id: int, level: Level
) -> tuple[JobRow, RunRow]:
    job = load_job(session, actor, rkind, job_id, level)
    run = session.get(RunRow, run_id)
    if run is None or run.job_id != job.id:
        raise NotFound(f"run {run_id} of {rkind.label.lower()} {job_id} not found")
    return job, run


def run_view(rkind: RunnableKind, run: RunRow) -> BaseModel:
    fields: dict[str, Any] = {
        "id": run.id,
        "state": run.state,
        "created_at": run.queued_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
    }
    if issubclass(rkind.run_schema, RunBase):
        fields |= {
            "is_cancel_requested": run.is_cancel_requested,
            "max_memory_usage": run.max_memory_usage,
            "max_cpu_usage": None,
        }
    if rkind.run_field:
        fields[rkind.run_field] = run.job_id
    return rkind.run_schema.model_construct(**fields)


def resources_for(config: dict[str, Any]) -> Resources:
    wanted = config.get("required_resources") or {}
    return Resources(
        cpu=int(wanted.get("cpu") or 1024), memory=int(wanted.get("memory") or DEFAULT_MEMORY_MB)
    )


def start_run(session: Session, actor: Actor, job: JobRow) -> RunRow:
    """Queue a run of `job` (write permission already checked)."""
    script = effective_script(session, job)
    for param in script.params:
        name = param.get("name")
        given = script.arguments.get(str(name))
        if (
            param.get("required")
            and param.get("value") in (None, "")
            and given in (None, "")
            and param.get("default") in (None, "")
        ):
            raise BadRequest(
                f"the script's param {name!r} is required: set it in the script's arguments "
                "before running it"
            )
    return queue.enqueue(
        session, job, triggered_by=actor.user_id, need=resources_for(script.config)
    )


def job_databases(config: dict[str, Any]) -> set[int]:
    """Ids of the registered databases a job's runs connect to, by the keys each kind uses."""
    found: list[Any] = [config.get(k) for k in ("remote_host_id", "database", "database_id")]
    for side in ("source", "destination"):
        block = config.get(side)
        if isinstance(block, dict):
            found.append(block.get("remote_host_id"))
    ids: set[int] = set()
    for value in found:
        try:
            ids.add(int(value))
        except (TypeError, ValueError):
            continue
    return ids


def check_run_addresses(session: Session, job: JobRow, client_ip: str | None) -> None:
    """A run started by a request reaches the job's databases on the caller's behalf, so the
    caller's address must pass their whitelists (`databases.check_client_address`), as it must
    for a query. Runs started by the scheduler or a chain have no caller and are not checked."""
    check_config_addresses(session, effective_script(session, job).config, client_ip)


def check_config_addresses(session: Session, config: dict[str, Any], client_ip: str | None) -> None:
    """The whitelist rule for every database a job configuration names (403 if one refuses)."""
    from civica.services.databases import check_client_address

    for database_id in sorted(job_databases(config)):
        database = session.get(RemoteHostRow, database_id)
        if database is not None:  # a missing one fails the run, saying so
            check_client_address(session, database, client_ip)


def create_run(
    *,
    session: Session,
    actor: Actor,
    rkind: RunnableKind,
    job_id: int,
    client_ip: str | None = None,
) -> BaseModel:
    job = load_job(session, actor, rkind, job_id, Level.WRITE)
    check_run_addresses(session, job, client_ip)
    return run_view(rkind, start_run(session, actor, job))


def get_run(
    *, session: Session, actor: Actor, rkind: RunnableKind, job_id: int, run_id: int
) -> BaseModel:
    _, run = _load_run(session, actor, rkind, job_id, run_id, Level.READ)
    return run_view(rkind, run)


def list_runs(
    *, session: Session, actor: Actor, rkind: RunnableKind, job_id: int, page: PageParams
) -> Page[BaseModel]:
    load_job(session, actor, rkind, job_id, Level.READ)
    total = session.scalar(select(func.count()).where(RunRow.job_id == job_id)) or 0
    order = RunRow.id.asc() if page.order_dir == "asc" else RunRow.id.desc()
    rows = session.scalars(
        select(RunRow)
        .where(RunRow.job_id == job_id)
        .order_by(order)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return Page(items=[run_view(rkind, r) for r in rows], total=total, params=page)


def cancel_live_run(session: Session, actor: Actor, run_id: int) -> RunRow:
    """Mark a queued or running run cancelled; its worker stops the process group."""
    stamp = datetime.now(UTC)
    changed = session.execute(
        update(RunRow)
        .execution_options(synchronize_session=False)
        .where(RunRow.id == run_id, RunRow.state.in_(tuple(queue.LIVE)))
        .values(state="cancelled", is_cancel_requested=True, finished_at=stamp, error=None)
        .returning(RunRow.id)
    ).first()
    if changed is not None:
        session.add(
            RunLogRow(run_id=run_id, level="info", message=f"Run cancelled by {actor.username}.")
        )
    run = session.get(RunRow, run_id)
    assert run is not None
    session.refresh(run)
    return run


def cancel_run(
    *, session: Session, actor: Actor, rkind: RunnableKind, job_id: int, run_id: int
) -> RunCancelled:
    _, run = _load_run(session, actor, rkind, job_id, run_id, Level.WRITE)
    run = cancel_live_run(session, actor, run.id)
    return RunCancelled(id=run.id, state=run.state, is_cancel_requested=run.is_cancel_requested)


def update_run(
    *,
    session: Session,
    actor: Actor,
    rkind: RunnableKind,
    job_id: int,
    run_id: int,
    body: RunUpdate,
) -> None:
    """A run reported on from outside (`PATCH .../runs/{run_id}`): an error fails it."""
    _, run = _load_run(session, actor, rkind, job_id, run_id, Level.WRITE)
    if body.error:
        if run.state not in queue.LIVE:
            raise Conflict(f"run {run_id} already ended ({run.state}); it cannot fail now")
        run.state = "failed"
        run.error = body.error
        run.finished_at = datetime.now(UTC)
        session.add(RunLogRow(run_id=run.id, level="error", message=body.error))


def beat_run(
    *, session: Session, actor: Actor, rkind: RunnableKind, job_id: int, run_id: int
) -> None:
    _, run = _load_run(session, actor, rkind, job_id, run_id, Level.WRITE)
    if run.state != "running":
        raise Conflict(f"run {run_id} is {run.state}, not running; heartbeats are for running runs")
    run.heartbeat_at = datetime.now(UTC)


def add_logs(
    *,
    session: Session,
    actor: Actor,
    rkind: RunnableKind,
    job_id: int,
    run_id: int,
    body: RunLogsIn,
) -> None:
    _load_run(session, actor, rkind, job_id, run_id, Level.WRITE)
    entries: list[tuple[str, str | None, datetime | None]] = []
    if body.message is not None:
        entries.append((body.message, body.level, None))
    entries += [(m.message, m.level, m.created_at) for m in body.messages or []]
    if not entries:
        raise BadRequest("send a message, or messages: a list of {message, level}")
    rows = []
    for message, level, at in entries:
        lvl = (level or "info").lower()
        if lvl not in LEVELS:
            raise BadRequest(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
        rows.append(
            {
                "run_id": run_id,
                "level": lvl,
                "message": message,
                "created_at": at or datetime.now(UTC),
            }
        )
    session.execute(insert(RunLogRow), rows)


def list_logs(
    *,
    session: Session,
    actor: Actor,
    rkind: RunnableKind,
    job_id: int,
    run_id: int,
    last_id: int | None = None,
    limit: int | None = None,
) -> LogsPage:
    """Log lines after `last_id`, oldest first; `max_id` and `live` feed the civis-* headers."""
    _, run = _load_run(session, actor, rkind, job_id, run_id, Level.READ)
    lim = LOG_LIMIT if limit is None else limit
    if not 1 <= lim <= LOG_LIMIT:
        raise BadRequest(f"limit must be between 1 and {LOG_LIMIT}; got {lim}")
    # Read the state first: a run seen finished here has all its lines already written.
    live = run.state in queue.LIVE
    conds = [RunLogRow.run_id == run_id]
    if last_id is not None:
        conds.append(RunLogRow.id > last_id)
    rows = session.execute(
        select(RunLogRow.id, RunLogRow.created_at, RunLogRow.message, RunLogRow.level)
        .where(*conds)
        .order_by(RunLogRow.id)
        .limit(lim)
    ).all()
    max_id = session.scalar(select(func.max(RunLogRow.id)).where(RunLogRow.run_id == run_id)) or 0
    logs = [
        RunLog.model_construct(id=r.id, created_at=r.created_at, message=r.message, level=r.level)
        for r in rows
    ]
    return LogsPage.model_construct(logs=logs, max_id=max_id, live=live)


def cache_control(page: LogsPage) -> str:
    return "no-store" if page.live else FINISHED_CACHE


def _output_view(row: RunOutputRow) -> RunOutput:
    api_name, kind_type = OUTPUT_TYPES.get(row.object_type.lower(), (row.object_type, ""))
    kind = KINDS.get(kind_type)
    link = f"/{kind.path}/{row.object_id}" if kind else ""
    return RunOutput.model_construct(
        object_type=api_name, object_id=row.object_id, name=row.name, link=link, value=row.value
    )


def list_outputs(
    *,
    session: Session,
    actor: Actor,
    rkind: RunnableKind,
    job_id: int,
    run_id: int,
    page: PageParams,
) -> Page[RunOutput]:
    _load_run(session, actor, rkind, job_id, run_id, Level.READ)
    total = session.scalar(select(func.count()).where(RunOutputRow.run_id == run_id)) or 0
    column = RunOutputRow.id if page.order == "id" else RunOutputRow.created_at
    asc = page.order_dir == "asc"
    rows = session.scalars(
        select(RunOutputRow)
        .where(RunOutputRow.run_id == run_id)
        .order_by(
            column.asc() if asc else column.desc(),
            RunOutputRow.id.asc() if asc else RunOutputRow.id.desc(),
        )
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return Page(items=[_output_view(r) for r in rows], total=total, params=page)


def add_output(
    *,
    session: Session,
    actor: Actor,
    rkind: RunnableKind,
    job_id: int,
    run_id: int,
    body: RunOutputCreate,
) -> RunOutput:
    """Record an object the run produced; the caller must be able to read that object."""
    _, run = _load_run(session, actor, rkind, job_id, run_id, Level.WRITE)
    known = OUTPUT_TYPES.get(body.object_type.strip().lower().replace(" ", ""))
    if known is None:
        raise BadRequest(
            "object_type must be one of File, Table, Report, Project, Credential or JSONValue; "
            f"got {body.object_type!r}"
        )
    api_name, kind_type = known
    kind = KINDS.get(kind_type)
    if kind is None:
        raise BadRequest(
            f"object_type {api_name}: this server has no {api_name} objects yet, so they cannot "
            "be run outputs; use a File or JSONValue instead"
        )
    obj = load(session, actor, kind, body.object_id, Level.READ)
    existing = session.scalar(
        select(RunOutputRow).where(
            RunOutputRow.run_id == run.id,
            RunOutputRow.object_type == api_name,
            RunOutputRow.object_id == body.object_id,
        )
    )
    if existing is not None:
        return _output_view(existing)
    name = getattr(obj, "name", None) or getattr(obj, "file_name", None) or ""
    row = RunOutputRow(
        run_id=run.id,
        object_type=api_name,
        object_id=body.object_id,
        name=str(name)[:255],
        value=getattr(obj, "value", None) if api_name == "JSONValue" else None,
    )
    session.add(row)
    session.flush()
    return _output_view(row)

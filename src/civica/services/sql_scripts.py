"""SQL scripts' runs as `/scripts/sql/{id}/runs` shows them: each with its `output` files and
their download links (the script itself is a `ScriptKind` in civica.services.scripts)."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civica.db.models import RunRow
from civica.platform import Platform
from civica.schemas.sql_scripts import SqlRun, SqlRunOutput
from civica.services.actor import Actor
from civica.services.errors import NotFound
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level
from civica.services.runs import load_job, run_view
from civica.services.scripts import SQL
from civica.services.sql import run_output_files


def _with_outputs(
    session: Session, platform: Platform, runs: list[RunRow], base_url: str
) -> list[SqlRun]:
    files = run_output_files(session, platform, [r.id for r in runs], base_url)
    out = []
    for run in runs:
        view = run_view(SQL.runnable, run)
        assert isinstance(view, SqlRun)
        view.output = [
            SqlRunOutput.model_construct(output_name=f.output_name, file_id=f.file_id, path=f.path)
            for f in files[run.id]
        ]
        out.append(view)
    return out


def get_sql_run(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    job_id: int,
    run_id: int,
    base_url: str,
) -> BaseModel:
    job = load_job(session, actor, SQL.runnable, job_id, Level.READ)
    run = session.get(RunRow, run_id)
    if run is None or run.job_id != job.id:
        raise NotFound(f"run {run_id} of sql script {job_id} not found")
    return _with_outputs(session, platform, [run], base_url)[0]


def list_sql_runs(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    job_id: int,
    page: PageParams,
    base_url: str,
) -> Page[SqlRun]:
    load_job(session, actor, SQL.runnable, job_id, Level.READ)
    total = session.scalar(select(func.count()).where(RunRow.job_id == job_id)) or 0
    order = RunRow.id.asc() if page.order_dir == "asc" else RunRow.id.desc()
    rows = list(
        session.scalars(
            select(RunRow)
            .where(RunRow.job_id == job_id)
            .order_by(order)
            .limit(page.limit)
            .offset(page.offset)
        )
    )
    return Page(items=_with_outputs(session, platform, rows, base_url), total=total, params=page)

"""Jobs: one view over every runnable object (scripts of each type now, imports and models later),
in one id space: list, get, parents and children, trigger e-mail addresses."""

from __future__ import annotations

import secrets as random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, object_session

from civica.db.models import JobRow, RunRow
from civica.platform import Platform
from civica.schemas.common import archived_label
from civica.schemas.jobs import Job, JobSummary, JobTree, RunBrief, TriggerEmail
from civica.services.actor import Actor
from civica.services.errors import BadRequest
from civica.services.kinds import ObjectKind, register
from civica.services.objects import archived_filter, id_list
from civica.services.permissions import Level, level_of, load, parse_level, visible_filter
from civica.services.users import user_blocks

RECENT_RUNS = 10
MAX_DEPTH = 20

# The job type the API shows for each kind, and its name among `/scripts/types`.
JOB_TYPES: dict[str, str] = {
    "python3": "JobTypes::PythonDocker",
    "r": "JobTypes::RDocker",
    "javascript": "JobTypes::JavaScript",
    "container": "JobTypes::ContainerDocker",
    "custom": "JobTypes::CustomScript",
}


def run_brief(run: RunRow) -> RunBrief:
    return RunBrief.model_construct(
        id=run.id,
        state=run.state,
        created_at=run.queued_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        error=run.error,
    )


def last_runs(session: Session, rows: Iterable[JobRow]) -> dict[int, RunRow]:
    """The newest run of each job, by job id, in one query."""
    ids = {r.last_run_id for r in rows if r.last_run_id is not None}
    if not ids:
        return {}
    return {r.job_id: r for r in session.scalars(select(RunRow).where(RunRow.id.in_(ids)))}


def recent_runs(session: Session, job_id: int, limit: int = RECENT_RUNS) -> list[RunBrief]:
    rows = session.scalars(
        select(RunRow).where(RunRow.job_id == job_id).order_by(RunRow.id.desc()).limit(limit)
    ).all()
    return [run_brief(r) for r in rows]


def job_state(run: RunRow | None) -> str:
    """A job's state is its newest run's, or idle when it never ran."""
    return run.state if run is not None else "idle"


def _project_entry(row: JobRow) -> dict[str, Any]:
    session = object_session(row)
    run = session.get(RunRow, row.last_run_id) if session and row.last_run_id else None
    return {
        "id": row.id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "name": row.name,
        "type": row.type,
        "finished_at": run.finished_at if run else None,
        "state": job_state(run),
    }


def job_detail(session: Session, actor: Actor, row: JobRow) -> Job:
    run = last_runs(session, [row]).get(row.id)
    return Job(
        id=row.id,
        name=row.name,
        type=row.type,
        from_template_id=row.from_template_id,
        state=job_state(run),
        created_at=row.created_at,
        updated_at=row.updated_at,
        runs=recent_runs(session, row.id),
        last_run=run_brief(run) if run else None,
        hidden=row.hidden,
        archived=archived_label(row.archived),
        author=user_blocks(session, [row.owner_id])[row.owner_id],
        my_permission_level=level_of(session, actor, JOB, row).label,
    )


JOB = register(
    ObjectKind(
        path="jobs",
        object_type="job",
        label="Job",
        row=JobRow,
        detail=job_detail,
        detail_schema=Job,
        seed_name="Job",
        project_section="scripts",
        project_entry=_project_entry,
        fco_type="scripts",
    )
)


def get_job(*, session: Session, actor: Actor, job_id: int) -> Job:
    return job_detail(session, actor, load(session, actor, JOB, job_id, Level.READ))


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def list_jobs(
    *,
    session: Session,
    actor: Actor,
    limit: int | None = None,
    page_num: int | None = None,
    state: str | None = None,
    type: str | None = None,
    q: str | None = None,
    permission: str | None = None,
    hidden: bool | None = None,
    archived: str | None = None,
    author: str | None = None,
) -> list[JobSummary]:
    lim = 50 if limit is None else limit
    if not 1 <= lim <= 1000:
        raise BadRequest(f"limit must be between 1 and 1000; got {lim}")
    page = 1 if page_num is None else page_num
    if page < 1:
        raise BadRequest(f"page_num must be 1 or more; got {page}")
    level = parse_level(permission) if permission else Level.READ
    conds: list[ColumnElement[bool]] = [
        visible_filter(actor, JOB, level),
        JobRow.hidden.is_(bool(hidden)),
    ]
    arch = archived_filter(JOB, archived)
    if arch is not None:
        conds.append(arch)
    if author:
        conds.append(JobRow.owner_id.in_(id_list("author", author, "user ids")))
    if type:
        wanted = _csv(type)
        conds.append(or_(JobRow.type.in_(wanted), JobRow.kind.in_(wanted)))
    if state:
        states = [s.lower() for s in _csv(state)]
        bad = [
            s
            for s in states
            if s not in ("queued", "running", "succeeded", "failed", "cancelled", "idle")
        ]
        if bad:
            raise BadRequest(
                f"state must be one or more of queued, running, succeeded, failed, cancelled; "
                f"got {', '.join(bad)}"
            )
        last_state = select(RunRow.state).where(RunRow.id == JobRow.last_run_id).scalar_subquery()
        options: list[ColumnElement[bool]] = [last_state.in_(states)]
        if "idle" in states:
            options.append(JobRow.last_run_id.is_(None))
        conds.append(or_(*options))
    if q:
        text = f"%{q.strip().lower()}%"
        search: list[ColumnElement[bool]] = [
            JobRow.name.ilike(text),
            JobRow.type.ilike(text),
            JobRow.kind.ilike(text),
        ]
        if q.strip().isdigit():
            search.append(JobRow.id == int(q.strip()))
        conds.append(or_(*search))
    rows = session.scalars(
        select(JobRow)
        .where(*conds)
        .order_by(JobRow.updated_at.desc(), JobRow.id.desc())
        .limit(lim)
        .offset((page - 1) * lim)
    ).all()
    return summaries(session, rows)


def summaries(session: Session, rows: Sequence[JobRow]) -> list[JobSummary]:
    runs = last_runs(session, rows)
    authors = user_blocks(session, {r.owner_id for r in rows})
    return [
        JobSummary.model_construct(
            id=r.id,
            name=r.name,
            type=r.type,
            from_template_id=r.from_template_id,
            state=job_state(runs.get(r.id)),
            created_at=r.created_at,
            updated_at=r.updated_at,
            last_run=run_brief(runs[r.id]) if r.id in runs else None,
            archived=archived_label(r.archived),
            author=authors[r.owner_id],
        )
        for r in rows
    ]


def list_parents(*, session: Session, actor: Actor, job_id: int) -> list[Job]:
    """The chain of jobs that trigger this one, nearest first (those the caller can read)."""
    row = load(session, actor, JOB, job_id, Level.READ)
    chain: list[Job] = []
    seen = {row.id}
    parent_id = row.parent_id
    while parent_id is not None and parent_id not in seen and len(chain) < MAX_DEPTH:
        seen.add(parent_id)
        parent = session.get(JobRow, parent_id)
        if parent is None or level_of(session, actor, JOB, parent) < Level.READ:
            break
        chain.append(job_detail(session, actor, parent))
        parent_id = parent.parent_id
    return chain


def list_children(*, session: Session, actor: Actor, job_id: int) -> JobTree:
    """This job with the tree of jobs it triggers (children, their children, ...)."""
    row = load(session, actor, JOB, job_id, Level.READ)
    by_parent: dict[int, list[JobRow]] = defaultdict(list)
    frontier = [row.id]
    seen = {row.id}
    depth = 0
    while frontier and depth < MAX_DEPTH:
        kids = session.scalars(
            select(JobRow)
            .where(JobRow.parent_id.in_(frontier), visible_filter(actor, JOB))
            .order_by(JobRow.id)
        ).all()
        frontier = []
        for kid in kids:
            if kid.id in seen or kid.parent_id is None:
                continue
            seen.add(kid.id)
            by_parent[kid.parent_id].append(kid)
            frontier.append(kid.id)
        depth += 1

    def fields(node: JobRow) -> dict[str, Any]:
        run = last_runs(session, [node]).get(node.id)
        return {
            "id": node.id,
            "name": node.name,
            "type": node.type,
            "from_template_id": node.from_template_id,
            "state": job_state(run),
            "created_at": node.created_at,
            "updated_at": node.updated_at,
            "runs": recent_runs(session, node.id),
            "last_run": run_brief(run) if run else None,
        }

    def wire(node: JobRow) -> dict[str, Any]:
        kids = [wire(k) for k in by_parent.get(node.id, [])]
        return JobTree(**fields(node), children=kids).model_dump(mode="json", by_alias=True)

    return JobTree(**fields(row), children=[wire(k) for k in by_parent.get(row.id, [])])


def check_parent(session: Session, actor: Actor, row: JobRow, parent_id: int | None) -> None:
    """Refuse a `parent_id` the actor cannot read or that would make a loop of triggers.

    Any kind calls this before setting `row.parent_id` (chains run a child after its parent).
    """
    if parent_id is None:
        return
    parent = session.get(JobRow, parent_id)
    if parent is None or level_of(session, actor, JOB, parent) < Level.READ:
        raise BadRequest(f"parent_id {parent_id} is not a job you can read; GET /jobs lists them")
    seen = {row.id} if row.id is not None else set()
    cursor: JobRow | None = parent
    while cursor is not None:
        if cursor.id in seen:
            raise BadRequest(
                f"parent_id {parent_id} would make a loop: job {parent_id} is this job or is "
                "triggered by it; choose a job that does not run after this one"
            )
        seen.add(cursor.id)
        cursor = session.get(JobRow, cursor.parent_id) if cursor.parent_id else None


def trigger_email(
    *, session: Session, actor: Actor, platform: Platform, job_id: int
) -> TriggerEmail:
    """A unique address that will run the job when mail reaches it (docs/execution.md)."""
    row = load(session, actor, JOB, job_id, Level.WRITE)
    if not row.trigger_email:
        token = random.token_hex(8)
        row.trigger_email = f"job-{row.id}-{token}@{platform.settings.trigger_email_domain}"
        session.flush()
    return TriggerEmail(trigger_email=row.trigger_email)

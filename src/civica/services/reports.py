"""Reports: HTML from `code_body` (or a report template's code) or from the output file of a
job's latest successful run, shown to readers at signed content URLs; an optional API key granted
by the owner for the report's front-end code; snapshot automation (a `report_snapshot` job whose
runs render the report in headless Chromium, see civica.reports.snapshots).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, object_session

from civica.db.models import (
    ApiKeyRow,
    FileRow,
    JobRow,
    ProjectObjectRow,
    ProjectRow,
    ReportRow,
    ReportSnapshotRow,
    RunOutputRow,
    RunRow,
    UserRow,
)
from civica.platform import Platform
from civica.reports.content import (
    CODE,
    DATA,
    THUMBNAIL,
    Output,
    backing_job,
    content_url,
    latest_output,
    report_code,
)
from civica.schemas.common import UserBlock, archived_label
from civica.schemas.reports import (
    Report,
    ReportCreate,
    ReportProject,
    ReportScript,
    ReportSummary,
    ReportUpdate,
    Snapshot,
    SnapshotIn,
    SnapshotSchedule,
)
from civica.services.actor import Actor
from civica.services.errors import BadRequest, Forbidden, NotFound
from civica.services.jobs import JOB, JOB_TYPES, last_runs, run_brief
from civica.services.kinds import ObjectKind, register
from civica.services.objects import archived_filter, id_list, project_kind
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, level_of, load, visible_filter
from civica.services.users import issue_api_key, revoke_api_key, user_blocks
from civica.storage import file_store

ORDERS = ("updated_at", "name", "created_at")
REPORT_TYPE = "ReportTypes::HTML"
SNAPSHOT_KIND = "report_snapshot"
JOB_TYPES.setdefault(SNAPSHOT_KIND, "JobTypes::ReportSnapshot")
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1440, 900
MIN_SIDE, MAX_SIDE = 600, 8000
SQL_KINDS = ("query", "sql")


def _project_entry(row: ReportRow) -> dict[str, Any]:
    session = object_session(row)
    job = backing_job(session, row) if session is not None else None
    run = session.get(RunRow, job.last_run_id) if session and job and job.last_run_id else None
    return {
        "id": row.id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "name": row.name,
        "state": run.state if run else None,
    }


def _detail_without_links(session: Session, actor: Actor, row: ReportRow) -> Report:
    return _detail(session, actor, row, None, None)


REPORT = register(
    ObjectKind(
        path="reports",
        object_type="report",
        label="Report",
        row=ReportRow,
        detail=_detail_without_links,
        detail_schema=Report,
        seed_name="Report",
        project_section="reports",
        project_entry=_project_entry,
        fco_type="reports",
    )
)


# -- views --------------------------------------------------------------------------------------


def _projects(session: Session, actor: Actor, ids: list[int]) -> dict[int, list[ReportProject]]:
    out: dict[int, list[ReportProject]] = defaultdict(list)
    if not ids:
        return out
    rows = session.execute(
        select(ProjectObjectRow.object_id, ProjectRow.id, ProjectRow.name)
        .join(ProjectRow, ProjectRow.id == ProjectObjectRow.project_id)
        .where(
            ProjectObjectRow.object_type == REPORT.object_type,
            ProjectObjectRow.object_id.in_(ids),
            visible_filter(actor, project_kind()),
        )
        .order_by(ProjectRow.id)
    ).all()
    for object_id, pid, name in rows:
        out[object_id].append(ReportProject(id=pid, name=name))
    return out


def _script_block(job: JobRow | None, readable_ids: set[int]) -> ReportScript | None:
    """The backing job, shown only to those who may read it (its SQL may be private)."""
    if job is None or job.id not in readable_ids:
        return None
    sql = (job.config or {}).get("sql") if job.kind in SQL_KINDS else None
    return ReportScript(id=job.id, name=job.name, sql=str(sql) if sql is not None else None)


@dataclass
class _Context:
    """What a page of reports needs, loaded in a few queries rather than a few per report."""

    jobs: dict[int, JobRow]
    runs: dict[int, RunRow]
    readable_jobs: set[int]
    users: dict[int, UserBlock]
    projects: dict[int, list[ReportProject]]


def _context(session: Session, actor: Actor, rows: Sequence[ReportRow]) -> _Context:
    job_ids = {r.script_id for r in rows if r.script_id is not None}
    jobs = (
        {j.id: j for j in session.scalars(select(JobRow).where(JobRow.id.in_(job_ids)))}
        if job_ids
        else {}
    )
    readable = (
        set(
            session.scalars(
                select(JobRow.id).where(JobRow.id.in_(job_ids), visible_filter(actor, JOB))
            )
        )
        if job_ids
        else set()
    )
    return _Context(
        jobs=jobs,
        runs=last_runs(session, jobs.values()),
        readable_jobs=readable,
        users=user_blocks(session, {r.owner_id for r in rows}),
        projects=_projects(session, actor, [r.id for r in rows]),
    )


def _owner_files(session: Session, row: ReportRow) -> ColumnElement[bool]:
    """The files the report's owner may read: a report shows only what its owner could, so
    reading a job is not a way to publish output files one cannot read oneself."""
    from civica.services.files import FILE
    from civica.services.users import actor_for

    owner = session.get(UserRow, row.owner_id)
    assert owner is not None
    return visible_filter(actor_for(session, owner), FILE)


def _output(session: Session, row: ReportRow, store_kind: str | None) -> Output | None:
    if row.script_id is None:
        return None
    return latest_output(session, row.script_id, store_kind, _owner_files(session, row))


def _thumbnail(session: Session, row: ReportRow, store_kind: str) -> FileRow | None:
    """The PNG of the report's newest successful snapshot, if any is still readable."""
    if row.snapshot_job_id is None:
        return None
    found = latest_output(session, row.snapshot_job_id, store_kind, _owner_files(session, row))
    return found.file if found is not None else None


def _summary_fields(
    session: Session, row: ReportRow, ctx: _Context, store_kind: str | None
) -> dict[str, Any]:
    """The fields lists and details share. `store_kind` None (no platform at hand): files are
    judged by their own store."""
    job = ctx.jobs.get(row.script_id) if row.script_id is not None else None
    run = ctx.runs.get(job.id) if job is not None else None
    output = _output(session, row, store_kind) if job is not None else None
    script = _script_block(job, ctx.readable_jobs)
    return {
        "id": row.id,
        "name": row.name,
        "user": ctx.users[row.owner_id],
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "projects": ctx.projects[row.id],
        "state": run.state if run else None,
        "finished_at": run.finished_at if run else None,
        "viz_updated_at": output.run.finished_at if output else row.viz_updated_at,
        "script": script,
        "job_path": f"/jobs/{job.id}" if job is not None and script is not None else None,
        "tableau_id": None,
        "template_id": row.template_id,
        "auth_thumbnail_url": None,
        "last_run": run_brief(run) if run else None,
        "archived": archived_label(row.archived),
        "type": REPORT_TYPE,
        "_output": output,
    }


def _granted_key(session: Session, row: ReportRow) -> ApiKeyRow | None:
    if row.api_key_id is None or row.api_key_encrypted is None:
        return None
    key = session.get(ApiKeyRow, row.api_key_id)
    return key if key is not None and key.revoked_at is None else None


def _detail(
    session: Session,
    actor: Actor,
    row: ReportRow,
    platform: Platform | None,
    base_url: str | None,
) -> Report:
    store_kind = file_store(platform).kind if platform is not None else None
    fields = _summary_fields(session, row, _context(session, actor, [row]), store_kind)
    output = fields.pop("_output")
    has_code = report_code(session, row) is not None
    key_row = _granted_key(session, row)
    api_key = None
    if platform is not None and base_url is not None:
        from civica.services.files import public_base

        base = public_base(platform, base_url)
        if has_code or output is not None:
            fields["auth_code_url"] = content_url(platform, base, CODE, row.id, actor.user_id)
        if output is not None:
            fields["auth_data_url"] = content_url(platform, base, DATA, row.id, actor.user_id)
        assert store_kind is not None
        if _thumbnail(session, row, store_kind) is not None:
            fields["auth_thumbnail_url"] = content_url(
                platform, base, THUMBNAIL, row.id, actor.user_id
            )
        if row.provide_api_key and key_row is not None and row.api_key_encrypted is not None:
            api_key = platform.secrets.decrypt(row.api_key_encrypted)
    return Report.model_validate(
        {
            **fields,
            "hidden": row.hidden,
            "config": row.config,
            "valid_output_file": output is not None,
            "provide_api_key": row.provide_api_key,
            "api_key": api_key,
            "api_key_id": key_row.id if key_row is not None else None,
            "app_state": dict(row.app_state or {}),
            "description": row.description,
            "my_permission_level": level_of(session, actor, REPORT, row).label,
        }
    )


# -- create, read, update -----------------------------------------------------------------------


def _check_script(session: Session, actor: Actor, script_id: int) -> JobRow:
    try:
        job: JobRow = load(session, actor, JOB, script_id, Level.READ)
    except NotFound:
        raise BadRequest(
            f"script_id {script_id} is not a script or query you can read; GET /scripts or "
            "GET /queries lists yours"
        ) from None
    if job.kind == SNAPSHOT_KIND:
        raise BadRequest(
            f"script_id {script_id} is a report snapshot job; name the script or query whose "
            "output the report shows"
        )
    return job


def _check_template(session: Session, actor: Actor, template_id: int, own_id: int | None) -> None:
    if own_id is not None and template_id == own_id:
        raise BadRequest("template_id cannot be the report itself")
    try:
        template: ReportRow = load(session, actor, REPORT, template_id, Level.READ)
    except NotFound:
        raise BadRequest(
            f"template_id {template_id} is not a report you can read; a template is a report "
            "whose code_body other reports show"
        ) from None
    if template.code_body is None:
        raise BadRequest(
            f"template_id {template_id} names a report without code_body; a template must be a "
            "code report"
        )


def create_report(
    *, session: Session, actor: Actor, platform: Platform, body: ReportCreate, base_url: str
) -> Report:
    given = body.given()
    if body.script_id is not None:
        _check_script(session, actor, body.script_id)
    if body.template_id is not None:
        _check_template(session, actor, body.template_id, None)
    now = datetime.now(UTC)
    row = ReportRow(
        owner_id=actor.user_id,
        name=(body.name or "").strip() or "Untitled report",
        description=body.description,
        code_body=body.code_body,
        script_id=body.script_id,
        template_id=body.template_id,
        app_state=dict(body.app_state or {}),
        provide_api_key=bool(body.provide_api_key),
        hidden=bool(body.hidden),
        viz_updated_at=now if {"code_body", "template_id"} & given.keys() else None,
    )
    session.add(row)
    session.flush()
    return _detail(session, actor, row, platform, base_url)


def get_report(
    *, session: Session, actor: Actor, platform: Platform, report_id: int, base_url: str
) -> Report:
    row = load(session, actor, REPORT, report_id, Level.READ)
    return _detail(session, actor, row, platform, base_url)


def list_reports(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    page: PageParams,
    type: str | None = None,
    author: str | None = None,
    template_id: int | None = None,
    hidden: bool | None = None,
    archived: str | None = None,
) -> Page[ReportSummary]:
    conds: list[ColumnElement[bool]] = [
        visible_filter(actor, REPORT),
        ReportRow.hidden.is_(bool(hidden)),
    ]
    arch = archived_filter(REPORT, archived)
    if arch is not None:
        conds.append(arch)
    if type:
        wanted = {t.strip().lower() for t in type.split(",") if t.strip()}
        unknown = wanted - {"tableau", "other"}
        if unknown:
            raise BadRequest(
                f"type must be a comma-separated list of tableau and other; got {type!r}"
            )
        if "other" not in wanted:  # every report here is an HTML report ("other")
            return Page(items=[], total=0, params=page)
    authors = id_list("author", author, "user ids")
    if authors:
        conds.append(ReportRow.owner_id.in_(authors))
    if template_id is not None:
        conds.append(ReportRow.template_id == template_id)
    column = {
        "updated_at": ReportRow.updated_at,
        "name": ReportRow.name,
        "created_at": ReportRow.created_at,
    }[page.order]
    asc = page.order_dir == "asc"
    rows = list(
        session.scalars(
            select(ReportRow)
            .where(*conds)
            .order_by(column.asc() if asc else column.desc(), ReportRow.id.asc())
            .limit(page.limit)
            .offset(page.offset)
        )
    )
    total = page.total_from(len(rows))
    if total is None:
        total = session.scalar(select(func.count()).select_from(ReportRow).where(*conds)) or 0
    ctx = _context(session, actor, rows)
    store_kind = file_store(platform).kind
    items = []
    for r in rows:
        fields = _summary_fields(session, r, ctx, store_kind)
        fields.pop("_output")
        items.append(ReportSummary.model_validate(fields))
    return Page(items=items, total=total, params=page)


def update_report(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    report_id: int,
    body: ReportUpdate,
    base_url: str,
) -> Report:
    row: ReportRow = load(session, actor, REPORT, report_id, Level.WRITE)
    given = body.given()
    sent = body.model_fields_set
    if "script_id" in given:
        script_id = int(body.script_id or 0)
        _check_script(session, actor, script_id)
        row.script_id = script_id
    if "template_id" in sent:
        new_template = body.template_id
        if new_template is not None:
            _check_template(session, actor, new_template, row.id)
        if new_template != row.template_id:
            row.template_id = new_template
            row.app_state = {}  # the seed: changing the template resets appState
            row.viz_updated_at = datetime.now(UTC)
    if "name" in given:
        name = str(given["name"]).strip()
        if not name:
            raise BadRequest("name cannot be empty; leave it out to keep the current name")
        row.name = name
    if "code_body" in given:
        row.code_body = str(given["code_body"])
        row.viz_updated_at = datetime.now(UTC)
    if "config" in given:
        row.config = str(given["config"])
    if "app_state" in given:
        row.app_state = dict(body.app_state or {})
    if "provide_api_key" in given:
        row.provide_api_key = bool(given["provide_api_key"])
    if "description" in given:
        row.description = str(given["description"])
    row.updated_at = datetime.now(UTC)
    session.flush()
    return _detail(session, actor, row, platform, base_url)


# -- grants -------------------------------------------------------------------------------------


def grant_report(
    *, session: Session, actor: Actor, platform: Platform, report_id: int, base_url: str
) -> Report:
    """Give the report an API key acting for its owner (kept until revoked)."""
    row: ReportRow = load(session, actor, REPORT, report_id, Level.MANAGE)
    if row.owner_id != actor.user_id:
        raise Forbidden(
            f"only the owner of report {report_id} can grant it an API key: the key acts on "
            "the owner's behalf. Ask them to call POST /reports/{id}/grants"
        )
    if _granted_key(session, row) is None:
        owner = session.get(UserRow, row.owner_id)
        assert owner is not None
        key_row, plain = issue_api_key(session=session, user=owner, name=f"report {row.id}")
        row.api_key_id = key_row.id
        row.api_key_encrypted = platform.secrets.encrypt(plain)
        session.flush()
    return _detail(session, actor, row, platform, base_url)


def revoke_report_grant(*, session: Session, actor: Actor, report_id: int) -> None:
    """Revoke the report's API key at once; the report keeps working without one."""
    row: ReportRow = load(session, actor, REPORT, report_id, Level.MANAGE)
    if row.api_key_id is not None:
        with contextlib.suppress(NotFound):  # the key is already gone
            revoke_api_key(session=session, key_id=row.api_key_id)
    row.api_key_id = None
    row.api_key_encrypted = None
    session.flush()


# -- snapshots ----------------------------------------------------------------------------------


def _snapshot_job(session: Session, row: ReportRow) -> ReportSnapshotRow | None:
    if row.snapshot_job_id is None:
        return None
    job = session.get(JobRow, row.snapshot_job_id)
    return job if isinstance(job, ReportSnapshotRow) else None


def _snapshot_view(session: Session, row: ReportRow, job: ReportSnapshotRow) -> Snapshot:
    config = dict(job.config or {})
    run = session.get(RunRow, job.last_run_id) if job.last_run_id else None
    return Snapshot(
        id=row.id,
        state=run.state if run else "idle",
        finished_at=run.finished_at if run else None,
        send_email_on_completion=bool(config.get("send_email_on_completion")),
        email_template=config.get("email_template"),
        recipient_email_addresses=config.get("recipient_email_addresses"),
        email_subject=config.get("email_subject"),
        height=int(config.get("height") or DEFAULT_HEIGHT),
        width=int(config.get("width") or DEFAULT_WIDTH),
        schedule=SnapshotSchedule.model_validate(config.get("schedule") or {}),
        parent_id=job.parent_id,
    )


def recipients(value: str | None) -> list[str]:
    """The comma-separated recipient list, each checked to look like an e-mail address."""
    out = []
    for part in (value or "").split(","):
        address = part.strip()
        if not address:
            continue
        local, at, domain = address.rpartition("@")
        if not at or not local or "." not in domain or any(c in address for c in " \t\r\n;<>"):
            raise BadRequest(
                "recipient_email_addresses must be e-mail addresses separated by commas, e.g. "
                f"'ana@example.com, ben@example.org'; {address!r} is not one"
            )
        out.append(address)
    return out


def _apply_snapshot(
    session: Session, actor: Actor, row: ReportRow, job: ReportSnapshotRow, body: SnapshotIn
) -> None:
    from civica.services.schedules import apply_schedule

    given = body.given()
    config = dict(job.config or {})
    config["report_id"] = row.id
    for side in ("width", "height"):
        if side in given:
            value = int(getattr(body, side))
            if not MIN_SIDE <= value <= MAX_SIDE:
                raise BadRequest(
                    f"{side} must be between {MIN_SIDE} and {MAX_SIDE} pixels; got {value}"
                )
            config[side] = value
        config.setdefault(side, DEFAULT_WIDTH if side == "width" else DEFAULT_HEIGHT)
    if "recipient_email_addresses" in given:
        recipients(body.recipient_email_addresses)
        config["recipient_email_addresses"] = str(body.recipient_email_addresses).strip()
    for name in ("email_template", "email_subject", "send_email_on_completion"):
        if name in given:
            config[name] = given[name]
    if body.schedule is not None:
        block = {k: v for k, v in body.schedule.model_dump().items() if v is not None}
        config["schedule"] = {**dict(config.get("schedule") or {}), **block}
    if "parent_id" in given:
        parent_id = int(body.parent_id or 0)
        try:
            load(session, actor, JOB, parent_id, Level.READ)
        except NotFound:
            raise BadRequest(
                f"parent_id {parent_id} is not a job you can read; GET /jobs lists them"
            ) from None
        job.parent_id = parent_id
    job.config = config
    job.name = f"Snapshot of report {row.id}: {row.name}"[:255]
    session.flush()
    apply_schedule(session, job)


def _ensure_snapshot_job(session: Session, row: ReportRow) -> ReportSnapshotRow:
    job = _snapshot_job(session, row)
    if job is None:
        # Owned by the report's owner: its runs render the report with the owner's permission.
        job = ReportSnapshotRow(
            owner_id=row.owner_id,
            type=JOB_TYPES[SNAPSHOT_KIND],
            name="",
            hidden=True,
            config={"report_id": row.id},
        )
        session.add(job)
        session.flush()
        row.snapshot_job_id = job.id
    return job


def post_snapshot(*, session: Session, actor: Actor, report_id: int, body: SnapshotIn) -> Snapshot:
    """Save the snapshot settings given and render a snapshot now (e-mailed when asked)."""
    from civica.services.runs import start_run

    row: ReportRow = load(session, actor, REPORT, report_id, Level.WRITE)
    job = _ensure_snapshot_job(session, row)
    _apply_snapshot(session, actor, row, job, body)
    start_run(session, actor, job)
    return _snapshot_view(session, row, job)


def list_snapshots(*, session: Session, actor: Actor, report_id: int) -> list[Snapshot]:
    """The report's snapshot settings: one entry, or none before any were saved. (A list
    because the clients name this operation `list_snapshots` only when it answers an array.)"""
    row: ReportRow = load(session, actor, REPORT, report_id, Level.READ)
    job = _snapshot_job(session, row)
    return [] if job is None else [_snapshot_view(session, row, job)]


def update_snapshot(
    *, session: Session, actor: Actor, report_id: int, body: SnapshotIn
) -> Snapshot:
    """Change the snapshot settings (made on first use) without taking a snapshot now."""
    row: ReportRow = load(session, actor, REPORT, report_id, Level.WRITE)
    job = _ensure_snapshot_job(session, row)
    _apply_snapshot(session, actor, row, job, body)
    return _snapshot_view(session, row, job)


# -- content (the /report-content routes) -------------------------------------------------------


def content_target(
    session: Session, platform: Platform, action: str, report_id: int, viewer_id: int
) -> tuple[ReportRow, str | None, FileRow | None]:
    """What a content URL shows now: (report, code, file), checking the viewer still may read
    the report. Raises NotFound when it is gone, unreadable, or has nothing to show."""
    from civica.services.users import actor_for

    row = session.get(ReportRow, report_id)
    viewer = session.get(UserRow, viewer_id)
    if row is None or viewer is None or not viewer.active:
        raise NotFound(f"report {report_id} not found")
    load(session, actor_for(session, viewer), REPORT, report_id, Level.READ)
    store_kind = file_store(platform).kind
    if action == THUMBNAIL:
        thumb = _thumbnail(session, row, store_kind)
        if thumb is None:
            raise NotFound(f"report {report_id} has no snapshot yet; POST its snapshots first")
        return row, None, thumb
    code = report_code(session, row) if action == CODE else None
    if code is not None:
        return row, code, None
    output = _output(session, row, store_kind)
    if output is None:
        raise NotFound(
            f"report {report_id} has nothing to show yet: set its code_body, or its script_id to "
            "a job whose latest successful run has an output file"
        )
    return row, None, output.file


def key_values(session: Session, platform: Platform, row: ReportRow, base: str) -> dict[str, Any]:
    """What the report's front-end code gets as `window.civica` (the key only while granted)."""
    key_row = _granted_key(session, row)
    values: dict[str, Any] = {"reportId": row.id, "apiEndpoint": base.rstrip("/") + "/"}
    if row.provide_api_key and key_row is not None and row.api_key_encrypted is not None:
        values["apiKey"] = platform.secrets.decrypt(row.api_key_encrypted)
        values["apiKeyId"] = key_row.id
    return values


def snapshot_outputs(session: Session, run_id: int) -> list[FileRow]:
    return list(
        session.scalars(
            select(FileRow)
            .join(RunOutputRow, RunOutputRow.object_id == FileRow.id)
            .where(RunOutputRow.run_id == run_id, RunOutputRow.object_type == "File")
        )
    )

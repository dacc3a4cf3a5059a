"""Script templates: publish a script so that custom scripts run its code with their own
arguments (`POST /scripts/custom {from_template_id}`)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from civica.db.models import JobRow, ScriptTemplateRow
from civica.schemas.templates import (
    ScriptTemplate,
    ScriptTemplateCreate,
    ScriptTemplateReplace,
    ScriptTemplateSummary,
    ScriptTemplateUpdate,
)
from civica.services.actor import Actor
from civica.services.errors import BadRequest
from civica.services.jobs import JOB, JOB_TYPES
from civica.services.kinds import ObjectKind, register
from civica.services.objects import id_list
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, level_of, load, visible_filter
from civica.services.users import user_blocks

ORDERS = ("name", "updated_at", "created_at")
CATEGORIES = ("import", "export", "enhancement", "model", "script")


def _use_count(session: Session, template_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                JobRow.from_template_id == template_id, JobRow.kind == "custom"
            )
        )
        or 0
    )


def template_detail(session: Session, actor: Actor, row: ScriptTemplateRow) -> ScriptTemplate:
    script = session.get(JobRow, row.script_id)
    config = dict(script.config or {}) if script else {}
    params = [
        {**p, "type": p.get("type") or "string", "required": bool(p.get("required"))}
        for p in config.get("params") or []
    ]
    return ScriptTemplate.model_validate(
        {
            "id": row.id,
            "public": False,
            "script_id": row.script_id,
            "script_type": JOB_TYPES.get(script.kind, script.kind) if script else "",
            "user_context": config.get("user_context") or "runner",
            "params": params,
            "name": row.name,
            "category": row.category,
            "note": row.note,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "use_count": _use_count(session, row.id),
            "ui_report_id": row.ui_report_id,
            "tech_reviewed": row.tech_reviewed,
            "archived": row.archived,
            "hidden": row.hidden,
            "author": user_blocks(session, [row.owner_id])[row.owner_id],
            "my_permission_level": level_of(session, actor, TEMPLATE, row).label,
        }
    )


TEMPLATE = register(
    ObjectKind(
        path="templates/scripts",
        object_type="template_script",
        label="Script Template",
        row=ScriptTemplateRow,
        detail=template_detail,
        detail_schema=ScriptTemplate,
    )
)


def create_template(
    *, session: Session, actor: Actor, body: ScriptTemplateCreate
) -> ScriptTemplate:
    """Publish a script: write permission on it is needed."""
    script = load(session, actor, JOB, body.script_id, Level.WRITE)
    if script.kind == "custom":
        raise BadRequest(
            f"script_id {body.script_id} is a custom script; publish the script it was made from"
        )
    name = body.name.strip()
    if not name:
        raise BadRequest("name cannot be empty")
    row = ScriptTemplateRow(
        owner_id=actor.user_id,
        script_id=script.id,
        name=name,
        note=body.note,
        category="script",
        ui_report_id=body.ui_report_id,
        archived=bool(body.archived),
        hidden=bool(body.hidden),
    )
    session.add(row)
    session.flush()
    return template_detail(session, actor, row)


def get_template(*, session: Session, actor: Actor, template_id: int) -> ScriptTemplate:
    return template_detail(session, actor, load(session, actor, TEMPLATE, template_id))


def update_template(
    *, session: Session, actor: Actor, template_id: int, body: ScriptTemplateUpdate
) -> ScriptTemplate:
    """Change the fields given (PATCH)."""
    row = load(session, actor, TEMPLATE, template_id, Level.WRITE)
    for name, value in body.given().items():
        if name == "name":
            value = _name(str(value))
        setattr(row, name, value)
    session.flush()
    return template_detail(session, actor, row)


def replace_template(
    *, session: Session, actor: Actor, template_id: int, body: ScriptTemplateReplace
) -> ScriptTemplate:
    """Replace the template's own fields (PUT): name, note and report; `archived` only when
    given. The backing script and its params stay: publish another script to change them."""
    row = load(session, actor, TEMPLATE, template_id, Level.WRITE)
    row.name = _name(body.name)
    row.note = body.note
    row.ui_report_id = body.ui_report_id
    if body.archived is not None:
        row.archived = body.archived
    session.flush()
    return template_detail(session, actor, row)


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise BadRequest("name cannot be empty")
    return name


def list_templates(
    *,
    session: Session,
    actor: Actor,
    page: PageParams,
    hidden: bool | None = None,
    author: str | None = None,
    category: str | None = None,
) -> Page[ScriptTemplateSummary]:
    conds: list[ColumnElement[bool]] = [
        visible_filter(actor, TEMPLATE),
        ScriptTemplateRow.hidden.is_(bool(hidden)),
    ]
    if author:
        conds.append(ScriptTemplateRow.owner_id.in_(id_list("author", author, "user ids")))
    if category:
        if category not in CATEGORIES:
            raise BadRequest(f"category must be one of {', '.join(CATEGORIES)}; got {category!r}")
        conds.append(ScriptTemplateRow.category == category)
    total = session.scalar(select(func.count()).select_from(ScriptTemplateRow).where(*conds)) or 0
    column = getattr(ScriptTemplateRow, page.order)
    asc = page.order_dir == "asc"
    rows = session.scalars(
        select(ScriptTemplateRow)
        .where(*conds)
        .order_by(column.asc() if asc else column.desc(), ScriptTemplateRow.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    items = []
    for r in rows:
        script = session.get(JobRow, r.script_id)
        items.append(
            ScriptTemplateSummary(
                id=r.id,
                public=False,
                script_id=r.script_id,
                user_context=((script.config or {}).get("user_context") if script else None)
                or "runner",
                name=r.name,
                category=r.category,
                created_at=r.created_at,
                updated_at=r.updated_at,
                use_count=_use_count(session, r.id),
                ui_report_id=r.ui_report_id,
                tech_reviewed=r.tech_reviewed,
                archived=r.archived,
            )
        )
    return Page(items=items, total=total, params=page)

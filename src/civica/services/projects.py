"""Projects: create, read with contents, list, update; shares and archive come from the kinds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from civica.db.models import GroupMemberRow, ProjectObjectRow, ProjectRow, ShareRow
from civica.schemas.common import ProjectRef, archived_label
from civica.schemas.projects import (
    Project,
    ProjectAllObject,
    ProjectCreate,
    ProjectSummary,
    ProjectUpdate,
)
from civica.services.actor import Actor
from civica.services.kinds import KINDS, ObjectKind, register
from civica.services.objects import archived_filter, id_list
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, load, parse_level, visible_filter
from civica.services.users import user_blocks, users_by_id

ORDERS = ("updated_at", "name", "created_at")
SUMMARY_COLUMNS = (
    ProjectRow.id,
    ProjectRow.owner_id,
    ProjectRow.name,
    ProjectRow.description,
    ProjectRow.auto_share,
    ProjectRow.created_at,
    ProjectRow.updated_at,
    ProjectRow.archived,
)


def _viewer_ids(session: Session, rows: Sequence[Any]) -> dict[int, list[int]]:
    """For each project, the users who can see it: owner, shared users, members of shared groups."""
    out: dict[int, set[int]] = {r.id: {r.owner_id} for r in rows}
    if not out:
        return {}
    group_shares: list[tuple[int, int]] = []
    for object_id, ptype, pid in session.execute(
        select(ShareRow.object_id, ShareRow.principal_type, ShareRow.principal_id).where(
            ShareRow.object_type == "project", ShareRow.object_id.in_(list(out))
        )
    ):
        if ptype == "user":
            out[object_id].add(pid)
        else:
            group_shares.append((object_id, pid))
    if group_shares:
        members: dict[int, list[int]] = defaultdict(list)
        for group_id, user_id in session.execute(
            select(GroupMemberRow.group_id, GroupMemberRow.user_id).where(
                GroupMemberRow.group_id.in_({g for _, g in group_shares})
            )
        ):
            members[group_id].append(user_id)
        for object_id, group_id in group_shares:
            out[object_id].update(members[group_id])
    return {k: sorted(v) for k, v in out.items()}


def _summaries(session: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Summary fields of projects; `rows` may be ORM rows or plain column rows."""
    viewers = _viewer_ids(session, rows)
    blocks = user_blocks(session, {u for v in viewers.values() for u in v})
    return [
        {
            "id": r.id,
            "author": blocks[r.owner_id],
            "name": r.name,
            "description": r.description,
            "users": [blocks[u] for u in viewers[r.id] if u in blocks],
            "auto_share": r.auto_share,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            "archived": archived_label(r.archived),
        }
        for r in rows
    ]


def project_refs(session: Session, rows: Sequence[ProjectRow]) -> list[ProjectRef]:
    return [ProjectRef(**s) for s in _summaries(session, rows)]


def project_detail(session: Session, actor: Actor, row: ProjectRow) -> Project:
    summary = _summaries(session, [row])[0]
    sections: dict[str, list[dict[str, Any]]] = defaultdict(list)
    all_objects: list[ProjectAllObject] = []
    members = session.execute(
        select(ProjectObjectRow.object_type, ProjectObjectRow.object_id).where(
            ProjectObjectRow.project_id == row.id
        )
    ).all()
    by_type: dict[str, list[int]] = defaultdict(list)
    for object_type, object_id in members:
        by_type[object_type].append(object_id)
    for object_type, ids in sorted(by_type.items()):
        kind = KINDS.get(object_type)
        if kind is None or kind.project_section is None or kind.project_entry is None:
            continue
        objs = session.scalars(
            select(kind.row)
            .where(kind.row.id.in_(ids), visible_filter(actor, kind))
            .order_by(kind.row.id)
        ).all()
        owners = users_by_id(session, {o.owner_id for o in objs})
        for obj in objs:
            entry = kind.project_entry(obj)
            sections[kind.project_section].append(entry)
            owner = owners.get(obj.owner_id)
            all_objects.append(
                ProjectAllObject(
                    project_id=row.id,
                    object_id=obj.id,
                    object_type=kind.label,
                    fco_type=kind.fco_type or kind.object_type,
                    sub_type=str(entry.get("type") or ""),
                    name=str(entry.get("name") or entry.get("file_name") or ""),
                    icon=kind.object_type,
                    author=owner.name if owner else "",
                    archived=archived_label(bool(getattr(obj, "archived", False))),
                )
            )
    return Project(
        **summary,
        tables=sections["tables"],
        surveys=sections["surveys"],
        scripts=sections["scripts"],
        imports=sections["imports"],
        models=sections["models"],
        reports=sections["reports"],
        script_templates=sections["script_templates"],
        files=sections["files"],
        app_instances=sections["app_instances"],
        all_objects=all_objects,
        note=row.note,
        hidden=row.hidden,
    )


PROJECT = register(
    ObjectKind(
        path="projects",
        object_type="project",
        label="Project",
        row=ProjectRow,
        detail=project_detail,
        detail_schema=Project,
    )
)


def create_project(*, session: Session, actor: Actor, body: ProjectCreate) -> Project:
    row = ProjectRow(
        owner_id=actor.user_id,
        name=body.name,
        description=body.description,
        note=body.note,
        hidden=bool(body.hidden),
    )
    session.add(row)
    session.flush()
    return project_detail(session, actor, row)


def get_project(*, session: Session, actor: Actor, project_id: int) -> Project:
    row = load(session, actor, PROJECT, project_id, Level.READ)
    return project_detail(session, actor, row)


def update_project(
    *, session: Session, actor: Actor, project_id: int, body: ProjectUpdate
) -> Project:
    row = load(session, actor, PROJECT, project_id, Level.WRITE)
    for name, value in body.given().items():
        setattr(row, name, value)
    session.flush()
    return project_detail(session, actor, row)


def list_projects(
    *,
    session: Session,
    actor: Actor,
    page: PageParams,
    author: str | None = None,
    permission: str | None = None,
    hidden: bool | None = None,
    archived: str | None = None,
    auto_share: bool | None = None,
) -> Page[ProjectSummary]:
    level = parse_level(permission) if permission else Level.READ
    conds: list[ColumnElement[bool]] = [
        visible_filter(actor, PROJECT, level),
        ProjectRow.hidden.is_(bool(hidden)),
    ]
    arch = archived_filter(PROJECT, archived)
    if arch is not None:
        conds.append(arch)
    if author:
        conds.append(ProjectRow.owner_id.in_(id_list("author", author, "user ids")))
    if auto_share is not None:
        conds.append(ProjectRow.auto_share.is_(auto_share))
    column = getattr(ProjectRow, page.order)
    ordering = column.asc() if page.order_dir == "asc" else column.desc()
    tiebreak = ProjectRow.id.asc() if page.order_dir == "asc" else ProjectRow.id.desc()
    rows = session.execute(
        select(*SUMMARY_COLUMNS)
        .where(*conds)
        .order_by(ordering, tiebreak)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    # Built from trusted column values: skip re-validation on this hot path.
    items = [ProjectSummary.model_construct(**s) for s in _summaries(session, rows)]
    total = page.total_from(len(rows))
    if total is None:
        total = session.scalar(select(func.count()).select_from(ProjectRow).where(*conds)) or 0
    return Page(items=items, total=total, params=page)

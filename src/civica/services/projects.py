"""Projects: create, read with contents, list, update; shares and archive come from the kinds."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select, true
from sqlalchemy.orm import Session

from civica.db.engine import core_execute
from civica.db.models import GroupMemberRow, ProjectObjectRow, ProjectRow, ShareRow, UserRow
from civica.schemas.common import ProjectRef, UserBlock, archived_label
from civica.schemas.projects import (
    Project,
    ProjectAllObject,
    ProjectCreate,
    ProjectSummary,
    ProjectUpdate,
)
from civica.services.actor import Actor
from civica.services.construct import construct
from civica.services.kinds import KINDS, ObjectKind, register
from civica.services.objects import archived_flag, id_list
from civica.services.paging import Page, PageParams
from civica.services.permissions import (
    Level,
    actor_params,
    load,
    parse_level,
    visible_filter,
    visible_filter_bound,
)
from civica.services.users import make_user_block, user_blocks, users_by_id

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
_OWNER_COLUMNS = (
    UserRow.name.label("owner_name"),
    UserRow.username.label("owner_username"),
    UserRow.last_seen_at.label("owner_seen"),
)


# Whether a project is shared at all: a list asks for the shares of those that are only.
_SHARED = (
    exists()
    .where(ShareRow.object_type == "project", ShareRow.object_id == ProjectRow.id)
    .label("shared")
)

# Built once: constructing a statement costs more than running it on these hot paths.
_SHARES_OF = select(ShareRow.object_id, ShareRow.principal_type, ShareRow.principal_id).where(
    ShareRow.object_type == "project", ShareRow.object_id.in_(bindparam("ids", expanding=True))
)
_MEMBERS_OF = select(GroupMemberRow.group_id, GroupMemberRow.user_id).where(
    GroupMemberRow.group_id.in_(bindparam("ids", expanding=True))
)


_MEMBERS_BY_PROJECT = select(ProjectObjectRow.object_type, ProjectObjectRow.object_id).where(
    ProjectObjectRow.project_id == bindparam("project_id")
)


def _viewer_ids(session: Session, rows: Sequence[Any]) -> dict[int, list[int]]:
    """For each project, the users who can see it: owner, shared users, members of shared groups.
    Rows that say whether they are shared (a `shared` column) spare the look-up for those that
    are not."""
    out: dict[int, set[int]] = {r.id: {r.owner_id} for r in rows}
    shared = [r.id for r in rows if getattr(r, "shared", True)]
    if not shared:
        return {k: sorted(v) for k, v in out.items()}
    group_shares: list[tuple[int, int]] = []
    for object_id, ptype, pid in core_execute(session, _SHARES_OF, {"ids": shared}):
        if ptype == "user":
            out[object_id].add(pid)
        else:
            group_shares.append((object_id, pid))
    if group_shares:
        members: dict[int, list[int]] = defaultdict(list)
        groups = sorted({g for _, g in group_shares})
        for group_id, user_id in core_execute(session, _MEMBERS_OF, {"ids": groups}):
            members[group_id].append(user_id)
        for object_id, group_id in group_shares:
            out[object_id].update(members[group_id])
    return {k: sorted(v) for k, v in out.items()}


def _summaries(
    session: Session, rows: Sequence[Any], known: dict[int, UserBlock] | None = None
) -> list[dict[str, Any]]:
    """Summary fields of projects; `rows` may be ORM rows or plain column rows. `known` holds user
    blocks the caller already has (the owners, read in the same query as the rows)."""
    viewers = _viewer_ids(session, rows)
    blocks = dict(known or {})
    missing = {u for v in viewers.values() for u in v} - blocks.keys()
    if missing:
        blocks.update(user_blocks(session, missing))
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
    members = core_execute(session, _MEMBERS_BY_PROJECT, {"project_id": row.id}).all()
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
    authors = id_list("author", author, "user ids") if author else None
    page_query, count_query = _list_queries(
        admin=actor.is_admin,
        groups=bool(actor.group_ids),
        level=level,
        hidden=bool(hidden),
        archived=archived_flag(archived),
        by_author=authors is not None,
        auto_share=auto_share,
        order=page.order,
        ascending=page.order_dir == "asc",
    )
    params = {**actor_params(actor), "authors": authors, "limit": page.limit, "offset": page.offset}
    # The owners' user blocks and the total come in the same query as the page.
    rows = core_execute(session, page_query, params).all()
    now = datetime.now(UTC)
    owners: dict[int, UserBlock] = {}
    for r in rows:
        if r.owner_id not in owners:
            owners[r.owner_id] = make_user_block(
                r.owner_id, r.owner_name, r.owner_username, r.owner_seen, now
            )
    # Built from trusted column values: skip re-validation on this hot path.
    items = [construct(ProjectSummary, s) for s in _summaries(session, rows, owners)]
    total = rows[0].total_rows if rows else page.total_from(0)
    if total is None:
        total = core_execute(session, count_query, params).scalar() or 0
    return Page(items=items, total=total, params=page)


@functools.lru_cache(maxsize=256)
def _list_queries(
    *,
    admin: bool,
    groups: bool,
    level: Level,
    hidden: bool,
    archived: bool | None,
    by_author: bool,
    auto_share: bool | None,
    order: str,
    ascending: bool,
) -> tuple[Select[*tuple[Any, ...]], Select[*tuple[Any, ...]]]:
    """The page and count queries of one shape of list, built once: building a statement (and
    its cache key) costs more than running it. Who asks, the authors and the page are bind
    parameters (`actor_params`, `authors`, `limit`, `offset`)."""
    conds: list[ColumnElement[bool]] = [
        true() if admin else visible_filter_bound(PROJECT, level, groups),
        ProjectRow.hidden.is_(hidden),
    ]
    if archived is not None:
        conds.append(ProjectRow.archived.is_(archived))
    if by_author:
        conds.append(ProjectRow.owner_id.in_(bindparam("authors", expanding=True)))
    if auto_share is not None:
        conds.append(ProjectRow.auto_share.is_(auto_share))
    column = getattr(ProjectRow, order)
    ordering = column.asc() if ascending else column.desc()
    tiebreak = ProjectRow.id.asc() if ascending else ProjectRow.id.desc()
    page_query = (
        select(*SUMMARY_COLUMNS, *_OWNER_COLUMNS, _SHARED, func.count().over().label("total_rows"))
        .join(UserRow, UserRow.id == ProjectRow.owner_id)
        .where(*conds)
        .order_by(ordering, tiebreak)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    count_query = select(func.count()).select_from(ProjectRow).where(*conds)
    return page_query, count_query

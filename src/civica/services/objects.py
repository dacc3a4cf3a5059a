"""Capabilities every object kind has: archive, and membership in projects."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from civica.db.models import ProjectObjectRow, ProjectRow
from civica.schemas.common import ProjectRef
from civica.services.actor import Actor
from civica.services.errors import BadRequest, NotFound
from civica.services.kinds import KINDS, ObjectKind
from civica.services.permissions import Level, load, visible_filter


def id_list(name: str, value: str | None, what: str = "ids") -> list[int]:
    """A list filter's comma-separated ids (`author=3,7`); a 400 naming the parameter if not."""
    try:
        return [int(v) for v in (value or "").split(",") if v.strip()]
    except ValueError:
        raise BadRequest(
            f"{name} must be a comma-separated list of {what}, e.g. 3,7; got {value!r}"
        ) from None


def put_archive(
    *, session: Session, actor: Actor, kind: ObjectKind, object_id: int, status: bool
) -> BaseModel:
    row = load(session, actor, kind, object_id, Level.MANAGE)
    row.archived = status
    session.flush()
    return kind.detail(session, actor, row)


def project_kind() -> ObjectKind:
    return KINDS["project"]


def list_object_projects(
    *, session: Session, actor: Actor, kind: ObjectKind, object_id: int, hidden: bool | None = None
) -> list[ProjectRef]:
    """The projects the object is in that the caller may read."""
    from civica.services.projects import project_refs

    load(session, actor, kind, object_id, Level.READ)
    pkind = project_kind()
    rows = session.scalars(
        select(ProjectRow)
        .join(ProjectObjectRow, ProjectObjectRow.project_id == ProjectRow.id)
        .where(
            ProjectObjectRow.object_type == kind.object_type,
            ProjectObjectRow.object_id == object_id,
            visible_filter(actor, pkind),
            ProjectRow.hidden.is_(bool(hidden)),
        )
        .order_by(ProjectRow.id)
    ).all()
    return project_refs(session, rows)


def put_object_project(
    *, session: Session, actor: Actor, kind: ObjectKind, object_id: int, project_id: int
) -> None:
    """Add the object to a project: write on both is needed."""
    load(session, actor, kind, object_id, Level.WRITE)
    load(session, actor, project_kind(), project_id, Level.WRITE)
    key = (project_id, kind.object_type, object_id)
    if session.get(ProjectObjectRow, key) is None:
        session.add(
            ProjectObjectRow(
                project_id=project_id, object_type=kind.object_type, object_id=object_id
            )
        )
        session.flush()


def delete_object_project(
    *, session: Session, actor: Actor, kind: ObjectKind, object_id: int, project_id: int
) -> None:
    load(session, actor, kind, object_id, Level.WRITE)
    load(session, actor, project_kind(), project_id, Level.WRITE)
    result = session.execute(
        delete(ProjectObjectRow).where(
            ProjectObjectRow.project_id == project_id,
            ProjectObjectRow.object_type == kind.object_type,
            ProjectObjectRow.object_id == object_id,
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"{kind.label.lower()} {object_id} is not in project {project_id}")


def archived_filter(kind: ObjectKind, archived: str | None) -> Any:
    """The `archived` list filter: "true", "false" (default) or "all"."""
    flag = archived_flag(archived)
    return None if flag is None else kind.row.archived.is_(flag)


def archived_flag(archived: str | None) -> bool | None:
    """The `archived` list filter's value: True, False (the default) or None for "all"."""
    value = (archived or "false").strip().lower()
    if value == "all":
        return None
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise BadRequest(f"archived must be true, false or all; got {archived!r}")

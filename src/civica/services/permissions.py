"""Permission levels and the checks every service uses.

An object's owner has manage. Others get what is shared with them directly or through a group.
Admins have manage on everything. Read is needed to see an object at all (otherwise it is a 404),
write to change or run it, manage to share, archive or transfer it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, TypeVar

from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, or_, select, true
from sqlalchemy.orm import Session

from civica.db.engine import core_execute
from civica.db.models import ShareRow
from civica.services.actor import Actor
from civica.services.errors import BadRequest, Forbidden, NotFound
from civica.services.kinds import ObjectKind

RowT = TypeVar("RowT")
MAX_ID = 2**63


class Level(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    MANAGE = 3

    @property
    def label(self) -> str:
        return self.name.lower()


PERMISSION_NAMES = {"read": Level.READ, "write": Level.WRITE, "manage": Level.MANAGE}


def parse_level(value: str) -> Level:
    try:
        return PERMISSION_NAMES[value.strip().lower()]
    except (KeyError, AttributeError):
        raise BadRequest(
            f"permission_level must be one of read, write, manage; got {value!r}"
        ) from None


def principal_filter(actor: Actor) -> ColumnElement[bool]:
    """Share rows that apply to this actor, directly or through a group."""
    conds = [and_(ShareRow.principal_type == "user", ShareRow.principal_id == actor.user_id)]
    if actor.group_ids:
        conds.append(
            and_(ShareRow.principal_type == "group", ShareRow.principal_id.in_(actor.group_ids))
        )
    return or_(*conds)


def level_of(session: Session, actor: Actor, kind: ObjectKind, row: Any) -> Level:
    if actor.is_admin or row.owner_id == actor.user_id:
        return Level.MANAGE
    best = core_execute(
        session,
        select(ShareRow.level)
        .where(
            ShareRow.object_type == kind.object_type,
            ShareRow.object_id == row.id,
            principal_filter(actor),
        )
        .order_by(ShareRow.level.desc())
        .limit(1),
    ).scalar()
    return Level(best or 0)


def visible_filter(
    actor: Actor, kind: ObjectKind, level: Level = Level.READ
) -> ColumnElement[bool]:
    """A WHERE clause selecting the rows of `kind` this actor holds at least `level` on."""
    if actor.is_admin:
        return true()
    shared = (
        select(ShareRow.object_id)
        .where(
            ShareRow.object_type == kind.object_type,
            ShareRow.level >= int(level),
            principal_filter(actor),
        )
        .scalar_subquery()
    )
    return or_(kind.row.owner_id == actor.user_id, kind.row.id.in_(shared))


def visible_filter_bound(
    kind: ObjectKind, level: Level = Level.READ, with_groups: bool = False
) -> ColumnElement[bool]:
    """`visible_filter` for a non-admin actor, with who the actor is left to bind parameters:
    `actor_id`, and `actor_groups` (a list) when `with_groups`. For statements built once and
    run again for every caller; `actor_params(actor)` gives the values."""
    actor_id: BindParameter[int] = bindparam("actor_id")
    principal = [and_(ShareRow.principal_type == "user", ShareRow.principal_id == actor_id)]
    if with_groups:
        groups: BindParameter[list[int]] = bindparam("actor_groups", expanding=True)
        principal.append(
            and_(ShareRow.principal_type == "group", ShareRow.principal_id.in_(groups))
        )
    shared = (
        select(ShareRow.object_id)
        .where(
            ShareRow.object_type == kind.object_type,
            ShareRow.level >= int(level),
            or_(*principal),
        )
        .scalar_subquery()
    )
    return or_(kind.row.owner_id == actor_id, kind.row.id.in_(shared))


def actor_params(actor: Actor) -> dict[str, Any]:
    """The bind parameters `visible_filter_bound` leaves open, for this actor."""
    return {"actor_id": actor.user_id, "actor_groups": sorted(actor.group_ids)}


def load(
    session: Session, actor: Actor, kind: ObjectKind, object_id: int, level: Level = Level.READ
) -> Any:
    """Load one object and check the actor holds `level` on it.

    Without read access the object is reported as missing (404), so ids cannot be probed;
    with read but not enough access, 403 says which level is needed.
    """
    row = session.get(kind.row, object_id) if 0 < object_id < MAX_ID else None
    return require(session, actor, kind, row, object_id, level)


def require(
    session: Session, actor: Actor, kind: ObjectKind, row: Any, object_id: int, level: Level
) -> Any:
    """Check the actor holds `level` on `row` (any object with `id` and `owner_id`, or None when
    it does not exist); returns the row. 404 without read access, 403 with too little."""
    if row is None:
        raise NotFound(f"{kind.label} {object_id} not found")
    have = level_of(session, actor, kind, row)
    if have < Level.READ:
        raise NotFound(f"{kind.label} {object_id} not found")
    if have < level:
        raise Forbidden(
            f"you need {level.label} permission on {kind.label.lower()} {object_id} for this; "
            f"you have {have.label}. Ask its owner to share it with you at that level."
        )
    return row

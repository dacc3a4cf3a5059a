"""Shares on any object kind: list, grant to users or groups, revoke."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from civica.db.models import GroupRow, ShareRow, UserRow
from civica.schemas.common import ShareEntry, ShareList, Shares
from civica.services.actor import Actor
from civica.services.errors import BadRequest, NotFound
from civica.services.kinds import ObjectKind
from civica.services.permissions import Level, load, parse_level


def shares_of(session: Session, kind: ObjectKind, row: object) -> Shares:
    object_id: int = row.id  # type: ignore[attr-defined]
    owner_id: int = row.owner_id  # type: ignore[attr-defined]
    grants = session.execute(
        select(ShareRow.principal_type, ShareRow.principal_id, ShareRow.level).where(
            ShareRow.object_type == kind.object_type, ShareRow.object_id == object_id
        )
    ).all()
    user_ids = {pid for ptype, pid, _ in grants if ptype == "user"} | {owner_id}
    group_ids = {pid for ptype, pid, _ in grants if ptype == "group"}
    user_names: dict[int, str] = {
        uid: name
        for uid, name in session.execute(
            select(UserRow.id, UserRow.name).where(UserRow.id.in_(user_ids))
        )
    }
    group_names: dict[int, str] = {
        gid: name
        for gid, name in session.execute(
            select(GroupRow.id, GroupRow.name).where(GroupRow.id.in_(group_ids))
        )
    }
    lists: dict[Level, tuple[list[ShareEntry], list[ShareEntry]]] = {
        level: ([], []) for level in (Level.READ, Level.WRITE, Level.MANAGE)
    }
    lists[Level.MANAGE][0].append(ShareEntry(id=owner_id, name=user_names.get(owner_id, "")))
    for ptype, pid, level in sorted(grants, key=lambda g: (g[0], g[1])):
        if ptype == "user":
            if pid == owner_id:
                continue
            lists[Level(level)][0].append(ShareEntry(id=pid, name=user_names.get(pid, "")))
        else:
            lists[Level(level)][1].append(ShareEntry(id=pid, name=group_names.get(pid, "")))

    def block(level: Level) -> ShareList:
        users_, groups_ = lists[level]
        return ShareList(users=users_, groups=groups_)

    return Shares(
        readers=block(Level.READ),
        writers=block(Level.WRITE),
        owners=block(Level.MANAGE),
        total_user_shares=len(user_ids),
        total_group_shares=len(group_ids),
    )


def list_shares(*, session: Session, actor: Actor, kind: ObjectKind, object_id: int) -> Shares:
    row = load(session, actor, kind, object_id, Level.READ)
    return shares_of(session, kind, row)


def _existing(session: Session, model: type[UserRow] | type[GroupRow], ids: list[int]) -> set[int]:
    found = set(session.scalars(select(model.id).where(model.id.in_(ids))))
    missing = sorted(set(ids) - found)
    if missing:
        what = "user" if model is UserRow else "group"
        shown = ", ".join(map(str, missing[:10]))
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise BadRequest(f"no {what} with id {shown}{more}; check the ids")
    return found


def put_shares(
    *,
    session: Session,
    actor: Actor,
    kind: ObjectKind,
    object_id: int,
    principal_type: str,
    principal_ids: list[int],
    permission_level: str,
) -> Shares:
    """Set the level of each user or group on the object (replacing what they had)."""
    level = parse_level(permission_level)
    row = load(session, actor, kind, object_id, Level.MANAGE)
    model = UserRow if principal_type == "user" else GroupRow
    ids = _existing(session, model, principal_ids)
    session.execute(
        delete(ShareRow).where(
            ShareRow.object_type == kind.object_type,
            ShareRow.object_id == object_id,
            ShareRow.principal_type == principal_type,
            ShareRow.principal_id.in_(ids),
        )
    )
    for pid in sorted(ids):
        if principal_type == "user" and pid == row.owner_id:
            continue  # the owner always has manage
        session.add(
            ShareRow(
                object_type=kind.object_type,
                object_id=object_id,
                principal_type=principal_type,
                principal_id=pid,
                level=int(level),
            )
        )
    session.flush()
    return shares_of(session, kind, row)


def delete_share(
    *,
    session: Session,
    actor: Actor,
    kind: ObjectKind,
    object_id: int,
    principal_type: str,
    principal_id: int,
) -> None:
    load(session, actor, kind, object_id, Level.MANAGE)
    result = session.execute(
        delete(ShareRow).where(
            ShareRow.object_type == kind.object_type,
            ShareRow.object_id == object_id,
            ShareRow.principal_type == principal_type,
            ShareRow.principal_id == principal_id,
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(
            f"{kind.label.lower()} {object_id} is not shared with {principal_type} {principal_id}"
        )

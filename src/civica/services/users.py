"""Users, groups and API keys."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from civica.db.engine import core_execute
from civica.db.models import ApiKeyRow, GroupMemberRow, GroupRow, UserRow
from civica.schemas.common import UserBlock
from civica.schemas.users import GroupRef, UserMe
from civica.security import SecretBox, hash_api_key, hash_password, new_api_key
from civica.services.actor import Actor
from civica.services.construct import construct
from civica.services.errors import BadRequest, Conflict, NotFound

ONLINE_WINDOW = timedelta(minutes=5)
USERNAME_MAX = 255


def initials(name: str, username: str) -> str:
    words = [w for w in (name or username).replace("_", " ").replace(".", " ").split() if w]
    return "".join(w[0].upper() for w in words[:3]) or username[:1].upper()


def is_online(row: UserRow, now: datetime | None = None) -> bool:
    if row.last_seen_at is None:
        return False
    return (now or datetime.now(UTC)) - row.last_seen_at < ONLINE_WINDOW


def user_block(row: UserRow) -> UserBlock:
    return UserBlock(
        id=row.id,
        name=row.name or row.username,
        username=row.username,
        initials=initials(row.name, row.username),
        online=is_online(row),
    )


_BLOCKS = select(UserRow.id, UserRow.name, UserRow.username, UserRow.last_seen_at).where(
    UserRow.id.in_(bindparam("ids", expanding=True))
)


def user_blocks(session: Session, ids: Iterable[int]) -> dict[int, UserBlock]:
    """Author/user blocks for many users in one query."""
    wanted = set(ids)
    if not wanted:
        return {}
    now = datetime.now(UTC)
    rows = core_execute(session, _BLOCKS, {"ids": sorted(wanted)})
    return {
        uid: make_user_block(uid, name, username, seen, now) for uid, name, username, seen in rows
    }


def make_user_block(
    uid: int, name: str, username: str, last_seen: datetime | None, now: datetime | None = None
) -> UserBlock:
    """A user block from plain column values (hot paths select these in the same query)."""
    online = last_seen is not None and (now or datetime.now(UTC)) - last_seen < ONLINE_WINDOW
    return construct(
        UserBlock,
        {
            "id": uid,
            "name": name or username,
            "username": username,
            "initials": initials(name, username),
            "online": online,
        },
    )


def users_by_id(session: Session, ids: Iterable[int]) -> dict[int, UserRow]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(UserRow).where(UserRow.id.in_(wanted)))}


def actor_for(session: Session, user: UserRow) -> Actor:
    groups = session.scalars(
        select(GroupMemberRow.group_id).where(GroupMemberRow.user_id == user.id)
    ).all()
    return Actor(
        user_id=user.id,
        username=user.username,
        name=user.name or user.username,
        is_admin=user.is_admin,
        group_ids=frozenset(groups),
    )


def _check_username(username: str) -> str:
    username = username.strip()
    if not username or len(username) > USERNAME_MAX:
        raise BadRequest(f"a username must be 1 to {USERNAME_MAX} characters")
    if any(c.isspace() or c in "/\\:\x00" for c in username):
        raise BadRequest("a username cannot contain spaces, slashes, colons or NUL characters")
    return username


def create_user(
    *,
    session: Session,
    username: str,
    name: str | None = None,
    email: str | None = None,
    is_admin: bool = False,
    password: str | None = None,
    secrets: SecretBox | None = None,
) -> UserRow:
    """A new user. With `secrets` (the platform's), their default Database credential for the
    embedded warehouse is made now; otherwise on their first use of credentials or SQL."""
    username = _check_username(username)
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise Conflict(f"a user named {username!r} already exists")
    row = UserRow(
        username=username,
        name=name or username,
        email=email,
        is_admin=is_admin,
        password_hash=hash_password(password) if password else None,
    )
    session.add(row)
    session.flush()
    if secrets is not None:
        from civica.services.credentials import ensure_default_credential

        ensure_default_credential(session=session, secrets=secrets, user=row)
    return row


def get_user_by_name(*, session: Session, username: str) -> UserRow:
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        raise NotFound(f"no user named {username!r}")
    return row


def issue_api_key(
    *,
    session: Session,
    user: UserRow,
    name: str = "",
    key: str | None = None,
    expires_in: timedelta | None = None,
) -> tuple[ApiKeyRow, str]:
    """Create an API key; the plain key is returned once and only its hash is stored."""
    plain = key or new_api_key()
    if len(plain) < 16:
        raise BadRequest("an API key must be at least 16 characters long")
    digest = hash_api_key(plain)
    if session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.key_hash == digest)) is not None:
        raise Conflict("that API key is already in use")
    row = ApiKeyRow(
        user_id=user.id,
        name=name,
        key_hash=digest,
        prefix=plain[:6],
        expires_at=datetime.now(UTC) + expires_in if expires_in else None,
    )
    session.add(row)
    session.flush()
    return row, plain


def revoke_api_key(*, session: Session, key_id: int) -> ApiKeyRow:
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return row


def authenticate(*, session: Session, key: str, touch: bool = True) -> Actor | None:
    """The actor an API key stands for, or None when it is unknown, revoked or expired.
    With `touch`, the user's and the key's last use are recorded (at most once a minute)."""
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_api_key(key)))
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or not user.active:
        return None
    if touch and (user.last_seen_at is None or now - user.last_seen_at > timedelta(minutes=1)):
        user.last_seen_at = now
        row.last_used_at = now
    return actor_for(session, user)


def create_group(*, session: Session, name: str, description: str | None = None) -> GroupRow:
    name = name.strip()
    if not name:
        raise BadRequest("a group needs a name")
    if session.scalar(select(GroupRow.id).where(GroupRow.name == name)) is not None:
        raise Conflict(f"a group named {name!r} already exists")
    row = GroupRow(name=name, description=description)
    session.add(row)
    session.flush()
    return row


def get_group_by_name(*, session: Session, name: str) -> GroupRow:
    row = session.scalar(select(GroupRow).where(GroupRow.name == name))
    if row is None:
        raise NotFound(f"no group named {name!r}")
    return row


def add_member(*, session: Session, group: GroupRow, user: UserRow) -> None:
    if session.get(GroupMemberRow, (group.id, user.id)) is None:
        session.add(GroupMemberRow(group_id=group.id, user_id=user.id))
        session.flush()


def remove_member(*, session: Session, group: GroupRow, user: UserRow) -> None:
    row = session.get(GroupMemberRow, (group.id, user.id))
    if row is None:
        raise NotFound(f"{user.username!r} is not a member of {group.name!r}")
    session.delete(row)
    session.flush()


def me(*, session: Session, actor: Actor) -> UserMe:
    row = session.get(UserRow, actor.user_id)
    if row is None:
        raise NotFound("your user no longer exists")
    groups = session.execute(
        select(GroupRow.id, GroupRow.name)
        .join(GroupMemberRow, GroupMemberRow.group_id == GroupRow.id)
        .where(GroupMemberRow.user_id == row.id)
        .order_by(GroupRow.id)
    ).all()
    return UserMe(
        id=row.id,
        name=row.name or row.username,
        email=row.email,
        username=row.username,
        initials=initials(row.name, row.username),
        is_admin=row.is_admin,
        time_zone=row.time_zone,
        groups=[GroupRef(id=g.id, name=g.name) for g in groups],
        feature_flags={},
        created_at=row.created_at,
    )

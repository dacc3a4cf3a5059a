"""Credentials: logins kept for their owner, passwords encrypted at rest and never returned.

Credentials are private: their owner and admins see them, nobody else (others get 404). Every
user has a default Database credential for the embedded DuckDB warehouse so the public client's
`GET /credentials?type=Database&default=True` always has an answer; a user may make another of
their Database credentials the default instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from civica.db.engine import core_execute
from civica.db.models import CredentialRow, RemoteHostRow, TemporaryCredentialRow, UserRow
from civica.platform import Platform
from civica.schemas.credentials import (
    CREDENTIAL_TYPES,
    Credential,
    CredentialAuthenticate,
    CredentialCreate,
    CredentialUpdate,
    RemoteHostIn,
    TemporaryCredential,
    TemporaryCredentialCreate,
)
from civica.security import SecretBox
from civica.services import databases
from civica.services.actor import Actor
from civica.services.construct import construct
from civica.services.errors import BadRequest, Forbidden
from civica.services.kinds import ObjectKind, register
from civica.services.paging import Page, PageParams
from civica.services.permissions import MAX_ID, Level, load, require, visible_filter
from civica.services.users import actor_for, make_user_block
from civica.warehouse import WarehouseError, is_file_backed, mask_url, open_warehouse, scrub

ORDERS = ("updated_at", "created_at", "name")
DATABASE_TYPE = "Database"
TEMPORARY_DEFAULT_SECONDS = 15 * 60
TEMPORARY_MIN_SECONDS = 15 * 60
TEMPORARY_MAX_SECONDS = 36 * 60 * 60
TEMPORARY_SCOPE = "files"
EMBEDDED_DEFAULT_DESCRIPTION = (
    "Your default login for the embedded DuckDB warehouse. DuckDB has no logins: the username is "
    "yours and the password is random, and the warehouse ignores both."
)
_TYPES_BY_LOWER = {t.lower(): t for t in CREDENTIAL_TYPES}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


# Credentials with their owner and remote host, in one query (reads are the hot path).
_DETAIL = (
    select(
        CredentialRow.id,
        CredentialRow.owner_id,
        CredentialRow.name,
        CredentialRow.type,
        CredentialRow.username,
        CredentialRow.description,
        CredentialRow.remote_host_id,
        CredentialRow.created_at,
        CredentialRow.updated_at,
        CredentialRow.is_default,
        UserRow.username.label("owner_username"),
        UserRow.name.label("owner_name"),
        UserRow.last_seen_at.label("owner_seen"),
        RemoteHostRow.name.label("host_name"),
    )
    .join(UserRow, UserRow.id == CredentialRow.owner_id)
    .outerjoin(RemoteHostRow, RemoteHostRow.id == CredentialRow.remote_host_id)
)
_DETAIL_BY_ID = _DETAIL.where(CredentialRow.id == bindparam("credential_id"))


def _credential(r: Any) -> Credential:
    """A response from a `_DETAIL` row; values come from the store, so no re-validation."""
    return construct(
        Credential,
        {
            "id": r.id,
            "name": r.name,
            "type": r.type,
            "username": r.username,
            "description": r.description,
            "owner": r.owner_username,
            "user": make_user_block(r.owner_id, r.owner_name, r.owner_username, r.owner_seen),
            "remote_host_id": r.remote_host_id,
            "remote_host_name": r.host_name,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            "default": r.is_default,
        },
    )


def _detail_row(session: Session, credential_id: int) -> Any:
    if not 0 < credential_id < MAX_ID:
        return None
    return core_execute(session, _DETAIL_BY_ID, {"credential_id": credential_id}).first()


def credential_detail(session: Session, actor: Actor, row: CredentialRow) -> Credential:
    session.flush()
    return _credential(_detail_row(session, row.id))


CREDENTIAL = register(
    ObjectKind(
        path="credentials",
        object_type="credential",
        label="Credential",
        row=CredentialRow,
        detail=credential_detail,
        detail_schema=Credential,
    )
)


def check_type(value: str) -> str:
    """The credential type in its canonical spelling (matching ignores case)."""
    found = _TYPES_BY_LOWER.get(value.strip().lower())
    if found is None:
        raise BadRequest(f"type must be one of: {', '.join(CREDENTIAL_TYPES)}; got {value!r}")
    return found


def _parse_types(value: str) -> list[str]:
    parts = [p for p in (s.strip() for s in value.split(",")) if p]
    if not parts:
        raise BadRequest(
            "type must name one or more credential types, comma-separated, e.g. Database"
        )
    unknown = [p for p in parts if p.lower() not in _TYPES_BY_LOWER]
    if unknown:
        raise BadRequest(
            f"type: unknown credential type(s) {', '.join(repr(u) for u in unknown)}; "
            f"allowed: {', '.join(CREDENTIAL_TYPES)}"
        )
    return [_TYPES_BY_LOWER[p.lower()] for p in parts]


# ---- default Database credential -----------------------------------------------------------


def _own_default(session: Session, user_id: int) -> CredentialRow | None:
    return session.scalar(
        select(CredentialRow)
        .where(
            CredentialRow.owner_id == user_id,
            CredentialRow.type == DATABASE_TYPE,
            CredentialRow.is_default.is_(True),
            CredentialRow.archived.is_(False),
        )
        .order_by(CredentialRow.id)
        .limit(1)
    )


def ensure_default_credential(
    *, session: Session, secrets: SecretBox, user: UserRow
) -> CredentialRow | None:
    """The user's default Database credential, created for the embedded warehouse if they have
    none (None only before the embedded warehouse is registered)."""
    existing = _own_default(session, user.id)
    if existing is not None:
        return existing
    warehouse = databases.embedded_database(session)
    if warehouse is None:
        return None
    # Serialise concurrent first calls of one user (PostgreSQL; SQLite has one writer anyway).
    session.execute(select(UserRow.id).where(UserRow.id == user.id).with_for_update())
    existing = _own_default(session, user.id)
    if existing is not None:
        return existing
    own = session.scalar(
        select(CredentialRow)
        .where(
            CredentialRow.owner_id == user.id,
            CredentialRow.type == DATABASE_TYPE,
            CredentialRow.remote_host_id == warehouse.id,
            CredentialRow.archived.is_(False),
        )
        .order_by(CredentialRow.id)
        .limit(1)
    )
    if own is not None:
        own.is_default = True
        session.flush()
        return own
    row = CredentialRow(
        owner_id=user.id,
        name=user.username,
        type=DATABASE_TYPE,
        username=user.username,
        password_encrypted=secrets.encrypt(random.token_urlsafe(24)),
        description=EMBEDDED_DEFAULT_DESCRIPTION,
        remote_host_id=warehouse.id,
        is_default=True,
    )
    session.add(row)
    session.flush()
    return row


def _ensure_for_actor(session: Session, secrets: SecretBox, actor: Actor) -> CredentialRow | None:
    existing = _own_default(session, actor.user_id)
    if existing is not None:
        return existing
    user = session.get(UserRow, actor.user_id)
    if user is None:
        return None
    return ensure_default_credential(session=session, secrets=secrets, user=user)


def default_credential(
    *, session: Session, actor: Actor, platform: Platform
) -> CredentialRow | None:
    """The caller's default Database credential (made on first use if need be)."""
    return _ensure_for_actor(session, platform.secrets, actor)


def _make_default(session: Session, row: CredentialRow) -> None:
    if row.type != DATABASE_TYPE:
        raise BadRequest(
            f"default: only Database credentials can be a default, and this one is type "
            f"{row.type!r}; send default only with type Database"
        )
    session.execute(
        update(CredentialRow)
        .where(
            CredentialRow.owner_id == row.owner_id,
            CredentialRow.id != row.id,
            CredentialRow.is_default.is_(True),
        )
        .values(is_default=False)
    )
    row.is_default = True


def login_for_database(
    *,
    session: Session,
    actor: Actor,
    secrets: SecretBox,
    database: RemoteHostRow,
    credential_id: int | None = None,
) -> tuple[str | None, str | None]:
    """The (username, password) to reach `database` with on the caller's behalf: the given
    credential, else the caller's own credential for that database (the default first), else
    (None, None), meaning the login in the registered URL."""
    if credential_id is not None:
        cred: CredentialRow = load(session, actor, CREDENTIAL, credential_id, Level.READ)
        if cred.type != DATABASE_TYPE:
            raise BadRequest(
                f"credential_id {credential_id} is a {cred.type!r} credential; "
                "databases need a Database credential"
            )
        if cred.remote_host_id not in (None, database.id):
            raise BadRequest(
                f"credential_id {credential_id} is for database {cred.remote_host_id}, not "
                f"database {database.id}; use a credential for this database, or none"
            )
        return cred.username, secrets.decrypt(cred.password_encrypted)
    if database.is_embedded:
        return None, None
    own = session.scalar(
        select(CredentialRow)
        .where(
            CredentialRow.owner_id == actor.user_id,
            CredentialRow.type == DATABASE_TYPE,
            CredentialRow.remote_host_id == database.id,
            CredentialRow.archived.is_(False),
        )
        .order_by(CredentialRow.is_default.desc(), CredentialRow.updated_at.desc())
        .limit(1)
    )
    if own is None:
        return None, None
    return own.username, secrets.decrypt(own.password_encrypted)


# ---- create, read, update, list ------------------------------------------------------------


def _remote_host_id(
    session: Session,
    actor: Actor,
    platform: Platform,
    remote_host_id: int | None,
    remote_host: RemoteHostIn | None,
) -> int | None:
    if remote_host_id is not None and remote_host is not None:
        raise BadRequest("send remote_host_id or remote_host, not both")
    if remote_host_id is not None:
        if not 0 < remote_host_id < MAX_ID or session.get(RemoteHostRow, remote_host_id) is None:
            raise BadRequest(
                f"remote_host_id {remote_host_id} is not a registered remote host; "
                "GET /remote_hosts lists them"
            )
        return remote_host_id
    if remote_host is None:
        return None
    row = session.scalar(select(RemoteHostRow).where(RemoteHostRow.name == remote_host.name))
    if row is not None:
        return row.id
    if not actor.is_admin:
        raise Forbidden(
            f"remote_host: there is no remote host named {remote_host.name!r}, and only admins "
            "can register new ones; pass the remote_host_id of one GET /remote_hosts lists"
        )
    databases.check_host_type(remote_host.type)
    created = databases.register_database(
        session=session,
        secrets=platform.secrets,
        owner_id=actor.user_id,
        name=remote_host.name,
        url=remote_host.url,
        host_type=remote_host.type,
    )
    return created.id


def _owner_for(session: Session, actor: Actor, user_id: int | None) -> int:
    if user_id is None or user_id == actor.user_id:
        return actor.user_id
    if not actor.is_admin:
        raise Forbidden("user_id: only admins can create credentials for other users")
    if not 0 < user_id < MAX_ID or session.get(UserRow, user_id) is None:
        raise BadRequest(f"user_id {user_id} is not a user")
    return user_id


def create_credential(
    *, session: Session, actor: Actor, platform: Platform, body: CredentialCreate
) -> Credential:
    ctype = check_type(body.type)
    owner_id = _owner_for(session, actor, body.user_id)
    host_id = _remote_host_id(session, actor, platform, body.remote_host_id, body.remote_host)
    row = CredentialRow(
        owner_id=owner_id,
        name=body.name or body.username,
        type=ctype,
        username=body.username,
        password_encrypted=platform.secrets.encrypt(body.password),
        description=body.description,
        remote_host_id=host_id,
        is_default=False,
    )
    session.add(row)
    session.flush()
    if body.default:
        _make_default(session, row)
        session.flush()
    return credential_detail(session, actor, row)


def get_credential(*, session: Session, actor: Actor, credential_id: int) -> Credential:
    row = _detail_row(session, credential_id)
    return _credential(require(session, actor, CREDENTIAL, row, credential_id, Level.READ))


def update_credential(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    credential_id: int,
    body: CredentialUpdate,
) -> Credential:
    row: CredentialRow = load(session, actor, CREDENTIAL, credential_id, Level.WRITE)
    row.type = check_type(body.type)
    row.username = body.username
    row.password_encrypted = platform.secrets.encrypt(body.password)
    given = body.given()
    if "name" in given:
        row.name = body.name or row.name
    if "description" in given:
        row.description = body.description
    if "remote_host_id" in given or "remote_host" in given:
        row.remote_host_id = _remote_host_id(
            session, actor, platform, body.remote_host_id, body.remote_host
        )
    if row.type != DATABASE_TYPE:
        row.is_default = False
    if body.default is True:
        _make_default(session, row)
    elif body.default is False:
        row.is_default = False
    row.updated_at = datetime.now(UTC)
    session.flush()
    return credential_detail(session, actor, row)


def list_credentials(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    page: PageParams,
    type: str | None = None,
    default: bool | None = None,
    remote_host_id: int | None = None,
) -> Page[Credential]:
    types = _parse_types(type) if type is not None else None
    _ensure_for_actor(session, platform.secrets, actor)
    conds: list[ColumnElement[bool]] = [
        visible_filter(actor, CREDENTIAL),
        CredentialRow.archived.is_(False),
    ]
    if types:
        conds.append(CredentialRow.type.in_(types))
    if remote_host_id is not None:
        conds.append(CredentialRow.remote_host_id == remote_host_id)
    if default:
        conds += [CredentialRow.owner_id == actor.user_id, CredentialRow.is_default.is_(True)]
    total = session.scalar(select(func.count()).select_from(CredentialRow).where(*conds)) or 0
    column = getattr(CredentialRow, page.order)
    ordering = column.asc() if page.order_dir == "asc" else column.desc()
    tiebreak = CredentialRow.id.asc() if page.order_dir == "asc" else CredentialRow.id.desc()
    rows = session.execute(
        _DETAIL.where(*conds)
        .order_by(ordering, tiebreak)
        .limit(1 if default else page.limit)
        .offset(page.offset)
    ).all()
    return Page(
        items=[_credential(r) for r in rows],
        total=min(total, 1) if default else total,
        params=page,
    )


# ---- authenticate --------------------------------------------------------------------------


def _same_database(a: URL, b: URL) -> bool:
    backend = a.get_backend_name()
    if backend != b.get_backend_name():
        return False
    port = _DEFAULT_PORTS.get(backend)
    return (
        (a.host or "").lower() == (b.host or "").lower()
        and (a.port or port) == (b.port or port)
        and (a.database or "") == (b.database or "")
    )


def _registered_database(session: Session, secrets: SecretBox, url: URL) -> RemoteHostRow | None:
    rows = session.scalars(
        select(RemoteHostRow).where(RemoteHostRow.archived.is_(False)).order_by(RemoteHostRow.id)
    ).all()
    for row in rows:
        try:
            stored = databases.stored_url(secrets, row)
        except (BadRequest, ValueError):
            continue
        if _same_database(stored, url):
            return row
    return None


def authenticate_credential(
    *, session: Session, actor: Actor, platform: Platform, body: CredentialAuthenticate
) -> Credential:
    """Log in to a database with the given username and password; on success keep the login as
    a Database credential (linked to the registered database at that address, if any)."""
    host_type = databases.check_host_type(body.remote_host_type)
    if host_type in databases.OTHER_HOST_TYPES:
        raise BadRequest(
            f"civica cannot check logins to {host_type} hosts from this server: it can only log "
            f"in to databases ({', '.join(databases.DATABASE_HOST_TYPES)}). To keep this login "
            "without checking it, create it with POST /credentials"
        )
    raw = body.url.strip()
    if "://" not in raw and host_type in ("RemoteHostTypes::Postgres", "RemoteHostTypes::Redshift"):
        raw = "postgresql://" + raw  # host:5432/db, as the public platform's hosts are written
    url = databases.database_url(raw)
    shown = mask_url(url)
    if is_file_backed(url):
        raise BadRequest(
            f"{url.get_backend_name()} databases are files on this server and have no logins to "
            f"check; url must name a database server, e.g. postgresql://host:5432/db"
        )
    databases.url_host_type(url, host_type, field="remote_host_type")
    try:
        with open_warehouse(url, body.username, body.password) as wh:
            wh.check_login()
    except WarehouseError as exc:
        reason = scrub(str(exc), body.password)
        raise BadRequest(f"login to {shown} as {body.username!r} failed: {reason}") from None
    match = _registered_database(session, platform.secrets, url)
    row = CredentialRow(
        owner_id=actor.user_id,
        name=body.username,
        type=DATABASE_TYPE,
        username=body.username,
        password_encrypted=platform.secrets.encrypt(body.password),
        description=f"Login checked against {shown}.",
        remote_host_id=match.id if match else None,
        is_default=False,
    )
    session.add(row)
    session.flush()
    return credential_detail(session, actor, row)


# ---- temporary credentials -----------------------------------------------------------------


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class TemporaryGrant:
    """What a valid temporary key pair stands for."""

    actor: Actor
    credential_id: int
    scope: str
    expires_at: datetime


def create_temporary_credential(
    *,
    session: Session,
    actor: Actor,
    credential_id: int,
    body: TemporaryCredentialCreate | None = None,
) -> TemporaryCredential:
    """A key pair for the file store, valid `duration` seconds; only hashes are kept."""
    duration = TEMPORARY_DEFAULT_SECONDS
    if body is not None and body.duration is not None:
        duration = body.duration
    if not TEMPORARY_MIN_SECONDS <= duration <= TEMPORARY_MAX_SECONDS:
        raise BadRequest(
            f"duration must be between {TEMPORARY_MIN_SECONDS} (15 minutes) and "
            f"{TEMPORARY_MAX_SECONDS} (36 hours) seconds; got {duration}"
        )
    row: CredentialRow = load(session, actor, CREDENTIAL, credential_id, Level.MANAGE)
    now = datetime.now(UTC)
    session.execute(
        delete(TemporaryCredentialRow).where(
            TemporaryCredentialRow.credential_id == row.id,
            TemporaryCredentialRow.expires_at <= now,
        )
    )
    access_key = "CTMP" + random.token_hex(8).upper()
    secret = random.token_urlsafe(30)
    token = random.token_urlsafe(48)
    expires_at = now + timedelta(seconds=duration)
    session.add(
        TemporaryCredentialRow(
            credential_id=row.id,
            user_id=actor.user_id,
            access_key=access_key,
            secret_hash=_digest(secret),
            session_token_hash=_digest(token),
            scope=TEMPORARY_SCOPE,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return TemporaryCredential(
        access_key=access_key,
        secret_access_key=secret,
        session_token=token,
        expires_at=expires_at,
    )


def verify_temporary(
    session: Session,
    access_key: str,
    secret: str,
    session_token: str,
    *,
    now: datetime | None = None,
) -> TemporaryGrant | None:
    """The grant a temporary key pair stands for, or None when the key is unknown, the secret or
    session token is wrong, it has expired, or its user is gone or deactivated."""
    row = session.scalar(
        select(TemporaryCredentialRow).where(TemporaryCredentialRow.access_key == access_key)
    )
    if row is None:
        return None
    secret_ok = hmac.compare_digest(row.secret_hash, _digest(secret))
    token_ok = hmac.compare_digest(row.session_token_hash, _digest(session_token))
    if not (secret_ok and token_ok):
        return None
    if row.expires_at <= (now or datetime.now(UTC)):
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or not user.active:
        return None
    return TemporaryGrant(
        actor=actor_for(session, user),
        credential_id=row.credential_id,
        scope=row.scope,
        expires_at=row.expires_at,
    )

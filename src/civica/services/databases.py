"""Databases (remote hosts): registration, listing, schemas, whitelisted IPs.

Every authenticated user can see every database (the public client lists them all before any SQL
call). Registering one is for admins; whitelisting addresses needs manage permission on it
(admins and its owner).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from civica.db.models import RemoteHostRow, UserRow, WhitelistIpRow
from civica.platform import Platform
from civica.schemas.databases import (
    Database,
    DatabaseSchema,
    RemoteHost,
    RemoteHostCreate,
    RemoteHostSummary,
    WhitelistIp,
    WhitelistIpCreate,
    WhitelistIpSummary,
)
from civica.security import SecretBox
from civica.services.actor import Actor
from civica.services.errors import BadRequest, Conflict, Forbidden, NotFound
from civica.services.permissions import MAX_ID, Level
from civica.services.users import user_block, users_by_id
from civica.warehouse import (
    Warehouse,
    WarehouseError,
    is_file_backed,
    mask_url,
    open_warehouse,
    parse_url,
)

log = logging.getLogger("civica.databases")

EMBEDDED_NAME = "civica"
# Every database the embedded warehouse must have, so users can write `public.t` as elsewhere.
EMBEDDED_SCHEMAS = ("public",)

# The remote host type recorded for each SQLAlchemy backend.
HOST_TYPES = {
    "duckdb": "RemoteHostTypes::DuckDB",
    "postgresql": "RemoteHostTypes::Postgres",
    "sqlite": "RemoteHostTypes::SQLite",
    "mysql": "RemoteHostTypes::MySQL",
    "mariadb": "RemoteHostTypes::MySQL",
}
# Types whose URL is a database URL civica can connect to.
DATABASE_HOST_TYPES = (
    "RemoteHostTypes::Postgres",
    "RemoteHostTypes::Redshift",
    "RemoteHostTypes::JDBC",
    "RemoteHostTypes::DuckDB",
    "RemoteHostTypes::SQLite",
    "RemoteHostTypes::MySQL",
)
# Types of the public platform that are not databases: known, but civica cannot reach them.
OTHER_HOST_TYPES = (
    "RemoteHostTypes::BSD",
    "RemoteHostTypes::Ftp",
    "RemoteHostTypes::Github",
    "RemoteHostTypes::GoogleDoc",
    "RemoteHostTypes::Salesforce",
    "RemoteHostTypes::Van",
    "RemoteHostTypes::Bigquery",
    "RemoteHostTypes::Bitbucket",
    "RemoteHostTypes::GitSSH",
    "RemoteHostTypes::S3Storage",
)
REMOTE_HOST_TYPES = DATABASE_HOST_TYPES + OTHER_HOST_TYPES
# A database URL may be registered under a broader type than its backend's own.
_COMPATIBLE = {
    "RemoteHostTypes::Postgres": {"RemoteHostTypes::Redshift", "RemoteHostTypes::JDBC"},
}


def check_host_type(value: str) -> str:
    if value not in REMOTE_HOST_TYPES:
        raise BadRequest(
            f"remote_host_type must be one of: {', '.join(REMOTE_HOST_TYPES)}; got {value!r}"
        )
    return value


def url_host_type(url: URL, host_type: str | None = None, field: str = "type") -> str:
    """The host type of a database URL, checking that `host_type`, when given, agrees with it."""
    own_type = HOST_TYPES.get(url.get_backend_name(), "RemoteHostTypes::JDBC")
    if host_type is not None and host_type != own_type:
        check_host_type(host_type)
        if host_type not in _COMPATIBLE.get(own_type, set()):
            raise BadRequest(
                f"{field} {host_type} does not match the url, which is a {own_type} database; "
                f"send {field} {own_type} or a url of that kind"
            )
    return own_type


def database_url(url: str) -> URL:
    """A URL as civica stores and opens it; BadRequest naming the problem otherwise."""
    try:
        return parse_url(url)
    except WarehouseError as exc:
        raise BadRequest(f"url: {exc}") from None


def host_type_for(url: str) -> str:
    backend = database_url(url).get_backend_name()
    return HOST_TYPES.get(backend, "RemoteHostTypes::JDBC")


def register_database(
    *,
    session: Session,
    secrets: SecretBox,
    owner_id: int,
    name: str,
    url: str,
    description: str | None = None,
    embedded: bool = False,
    host_type: str | None = None,
) -> RemoteHostRow:
    """Record a database by name and SQLAlchemy URL (the URL is encrypted at rest).

    Registering the embedded warehouse also gives every existing user their default credential
    for it (users created later get theirs when created, or on first use)."""
    name = name.strip()
    if not name or len(name) > 255:
        raise BadRequest("a database needs a name of 1 to 255 characters")
    parsed = database_url(url)
    own_type = url_host_type(parsed, host_type)
    if session.scalar(select(RemoteHostRow.id).where(RemoteHostRow.name == name)) is not None:
        raise Conflict(f"a database named {name!r} already exists; choose another name")
    row = RemoteHostRow(
        owner_id=owner_id,
        name=name,
        type=host_type or own_type,
        url_encrypted=secrets.encrypt(parsed.render_as_string(hide_password=False)),
        description=description,
        is_embedded=embedded,
    )
    session.add(row)
    session.flush()
    if embedded:
        _prepare_embedded(parsed)
        from civica.services.credentials import ensure_default_credential

        for user in session.scalars(select(UserRow).order_by(UserRow.id)):
            ensure_default_credential(session=session, secrets=secrets, user=user)
    return row


def _prepare_embedded(url: URL) -> None:
    try:
        with open_warehouse(url) as wh:
            for schema in EMBEDDED_SCHEMAS:
                wh.ensure_schema(schema)
    except WarehouseError as exc:  # it is retried whenever the warehouse is opened
        log.warning("could not prepare the embedded warehouse yet: %s", exc)


def embedded_database(session: Session) -> RemoteHostRow | None:
    return session.scalar(select(RemoteHostRow).where(RemoteHostRow.is_embedded.is_(True)))


def stored_url(secrets: SecretBox, row: RemoteHostRow) -> URL:
    """The database's URL, decrypted (it may hold a password: never show it unmasked)."""
    return database_url(secrets.decrypt(row.url_encrypted))


def masked_url(secrets: SecretBox, row: RemoteHostRow) -> str:
    return mask_url(stored_url(secrets, row))


def load_database(session: Session, database_id: int) -> RemoteHostRow:
    """Any database by id: every authenticated user can see every database."""
    row = session.get(RemoteHostRow, database_id) if 0 < database_id < MAX_ID else None
    if row is None or row.archived:
        raise NotFound(f"database {database_id} not found; GET /databases lists them")
    return row


def level_on(actor: Actor, row: RemoteHostRow) -> Level:
    """Databases are not shared: admins and the owner manage one, everyone else reads it."""
    return Level.MANAGE if actor.is_admin or row.owner_id == actor.user_id else Level.READ


def _require_manage(actor: Actor, row: RemoteHostRow, doing: str) -> None:
    if level_on(actor, row) < Level.MANAGE:
        raise Forbidden(
            f"{doing} needs manage permission on database {row.id} ({row.name}); "
            "ask an admin or the database's owner"
        )


# ---- databases -----------------------------------------------------------------------------


def _describe(secrets: SecretBox, row: RemoteHostRow) -> Database:
    url = stored_url(secrets, row)
    backend = url.get_backend_name()
    database_name = url.database
    if database_name and is_file_backed(url):
        database_name = database_name.replace("\\", "/").rsplit("/", 1)[-1]
    return Database(
        id=row.id,
        name=row.name,
        adapter=backend,
        cluster_identifier=None,
        host=url.host,
        port=url.port,
        database_name=database_name or None,
        managed=row.is_embedded,
    )


def _all_databases(session: Session) -> Sequence[RemoteHostRow]:
    return session.scalars(
        select(RemoteHostRow)
        .where(RemoteHostRow.archived.is_(False), RemoteHostRow.type.in_(DATABASE_HOST_TYPES))
        .order_by(RemoteHostRow.id)
    ).all()


def list_databases(*, session: Session, actor: Actor, platform: Platform) -> list[Database]:
    return [_describe(platform.secrets, row) for row in _all_databases(session)]


def get_database(
    *, session: Session, actor: Actor, platform: Platform, database_id: int
) -> Database:
    return _describe(platform.secrets, load_database(session, database_id))


def check_client_address(session: Session, database_row: RemoteHostRow, ip: str | None) -> None:
    """Refuse (403) to reach `database_row` for a caller at `ip` when the database has active
    whitelist rules and none of them contains `ip`. Without active rules anyone may."""
    rules = session.scalars(
        select(WhitelistIpRow.subnet_mask).where(
            WhitelistIpRow.remote_host_id == database_row.id, WhitelistIpRow.is_active.is_(True)
        )
    ).all()
    if not rules:
        return
    how = (
        f"ask an admin to add it with POST /databases/{database_row.id}/whitelist-ips "
        "(GET lists the allowed subnets)"
    )
    try:
        address = ipaddress.ip_address((ip or "").split("%", 1)[0])
    except ValueError:
        raise Forbidden(
            f"database {database_row.id} ({database_row.name}) only accepts calls from "
            f"whitelisted addresses, and this request's address {ip!r} is unknown; {how}"
        ) from None
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    for rule in rules:
        network = ipaddress.ip_network(rule, strict=False)
        if any(a.version == network.version and a in network for a in candidates):
            return
    raise Forbidden(
        f"database {database_row.id} ({database_row.name}) only accepts calls from whitelisted "
        f"addresses, and yours ({address}) is not in any of its subnets; {how}"
    )


def open_database(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    row: RemoteHostRow,
    client_ip: str | None,
    credential_id: int | None = None,
) -> Warehouse:
    """Connect to a database on the caller's behalf: the client-address check first, then the
    login of `credential_id`, else the caller's own credential for that database, else the
    login in the registered URL. The caller closes the warehouse."""
    from civica.services.credentials import login_for_database

    check_client_address(session, row, client_ip)
    username, password = login_for_database(
        session=session,
        actor=actor,
        secrets=platform.secrets,
        database=row,
        credential_id=credential_id,
    )
    try:
        wh = open_warehouse(stored_url(platform.secrets, row), username, password)
        if row.is_embedded:
            for schema in EMBEDDED_SCHEMAS:
                wh.ensure_schema(schema)
    except WarehouseError as exc:
        raise BadRequest(str(exc)) from None
    return wh


def list_schemas(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    database_id: int,
    client_ip: str | None,
    name: str | None = None,
    credential_id: int | None = None,
) -> list[DatabaseSchema]:
    row = load_database(session, database_id)
    with open_database(
        session=session,
        actor=actor,
        platform=platform,
        row=row,
        client_ip=client_ip,
        credential_id=credential_id,
    ) as wh:
        try:
            names = wh.list_schemas()
        except WarehouseError as exc:
            raise BadRequest(str(exc)) from None
    if name:
        names = [n for n in names if name.lower() in n.lower()]
    return [DatabaseSchema(schema_=n) for n in names]


# ---- whitelisted IPs -----------------------------------------------------------------------


def parse_subnet(value: str) -> str:
    """An IP address or CIDR block, normalised (`10.1.2.3` -> `10.1.2.3/32`)."""
    text = value.strip()
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise BadRequest(
            f"subnet_mask must be an IP address or a CIDR block such as 10.0.0.0/8, "
            f"192.168.1.7 or 2001:db8::/32; got {value!r}"
        ) from None
    raise BadRequest(
        f"subnet_mask {value!r} has bits set past its prefix length; did you mean {loose}?"
    )


def _whitelist_detail(session: Session, row: WhitelistIpRow) -> WhitelistIp:
    by = session.get(UserRow, row.authorized_by_id)
    return WhitelistIp(
        id=row.id,
        remote_host_id=row.remote_host_id,
        security_group_id=row.security_group_id,
        subnet_mask=row.subnet_mask,
        authorized_by=by.username if by else "",
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_whitelist_ips(
    *, session: Session, actor: Actor, database_id: int
) -> list[WhitelistIpSummary]:
    row = load_database(session, database_id)
    rules = session.scalars(
        select(WhitelistIpRow)
        .where(WhitelistIpRow.remote_host_id == row.id)
        .order_by(WhitelistIpRow.id)
    ).all()
    return [WhitelistIpSummary.model_validate(r) for r in rules]


def create_whitelist_ip(
    *, session: Session, actor: Actor, database_id: int, body: WhitelistIpCreate
) -> WhitelistIp:
    row = load_database(session, database_id)
    _require_manage(actor, row, "whitelisting an address")
    subnet = parse_subnet(body.subnet_mask)
    existing = session.scalar(
        select(WhitelistIpRow.id).where(
            WhitelistIpRow.remote_host_id == row.id, WhitelistIpRow.subnet_mask == subnet
        )
    )
    if existing is not None:
        raise Conflict(
            f"{subnet} is already whitelisted for database {row.id} (rule {existing}); "
            f"DELETE /databases/{row.id}/whitelist-ips/{existing} first to replace it"
        )
    rule = WhitelistIpRow(
        remote_host_id=row.id,
        subnet_mask=subnet,
        security_group_id=f"sg-civica-{row.id}",
        authorized_by_id=actor.user_id,
        is_active=True,
    )
    session.add(rule)
    session.flush()
    return _whitelist_detail(session, rule)


def _load_rule(session: Session, row: RemoteHostRow, whitelisted_ip_id: int) -> WhitelistIpRow:
    rule = (
        session.get(WhitelistIpRow, whitelisted_ip_id) if 0 < whitelisted_ip_id < MAX_ID else None
    )
    if rule is None or rule.remote_host_id != row.id:
        raise NotFound(f"whitelisted IP {whitelisted_ip_id} not found for database {row.id}")
    return rule


def get_whitelist_ip(
    *, session: Session, actor: Actor, database_id: int, whitelisted_ip_id: int
) -> WhitelistIp:
    row = load_database(session, database_id)
    return _whitelist_detail(session, _load_rule(session, row, whitelisted_ip_id))


def delete_whitelist_ip(
    *, session: Session, actor: Actor, database_id: int, whitelisted_ip_id: int
) -> None:
    row = load_database(session, database_id)
    rule = _load_rule(session, row, whitelisted_ip_id)
    _require_manage(actor, row, "removing a whitelisted address")
    session.delete(rule)
    session.flush()


# ---- remote hosts --------------------------------------------------------------------------


def remote_host_detail(
    session: Session, actor: Actor, row: RemoteHostRow, secrets: SecretBox
) -> RemoteHost:
    owner = users_by_id(session, [row.owner_id])[row.owner_id]
    return RemoteHost(
        id=row.id,
        name=row.name,
        type=row.type,
        url=masked_url(secrets, row),
        description=row.description,
        my_permission_level=level_on(actor, row).label,
        user=user_block(owner),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_remote_hosts(
    *, session: Session, actor: Actor, platform: Platform, type: str | None = None
) -> list[RemoteHostSummary]:
    query = select(RemoteHostRow).where(RemoteHostRow.archived.is_(False))
    if type:
        query = query.where(RemoteHostRow.type == check_host_type(type))
    rows = session.scalars(query.order_by(RemoteHostRow.id)).all()
    return [
        RemoteHostSummary(id=r.id, name=r.name, type=r.type, url=masked_url(platform.secrets, r))
        for r in rows
    ]


def create_remote_host(
    *, session: Session, actor: Actor, platform: Platform, body: RemoteHostCreate
) -> RemoteHost:
    if not actor.is_admin:
        raise Forbidden("only admins can register remote hosts; ask an admin to add this one")
    host_type = check_host_type(body.type)
    if host_type in OTHER_HOST_TYPES:
        raise BadRequest(
            f"civica can only register database hosts ({', '.join(DATABASE_HOST_TYPES)}); "
            f"{host_type} hosts cannot be reached from this server"
        )
    row = register_database(
        session=session,
        secrets=platform.secrets,
        owner_id=actor.user_id,
        name=body.name,
        url=body.url,
        description=body.description,
        host_type=host_type,
    )
    return remote_host_detail(session, actor, row, platform.secrets)


def get_remote_host(
    *, session: Session, actor: Actor, platform: Platform, remote_host_id: int
) -> RemoteHost:
    row = session.get(RemoteHostRow, remote_host_id) if 0 < remote_host_id < MAX_ID else None
    if row is None:
        raise NotFound(f"remote host {remote_host_id} not found; GET /remote_hosts lists them")
    return remote_host_detail(session, actor, row, platform.secrets)

"""Databases (remote hosts): registration, listing, schemas, whitelisted IPs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from civica.db.models import RemoteHostRow
from civica.security import SecretBox
from civica.services.errors import BadRequest, Conflict

EMBEDDED_NAME = "civica"

# The remote host type recorded for each SQLAlchemy backend.
HOST_TYPES = {
    "duckdb": "RemoteHostTypes::DuckDB",
    "postgresql": "RemoteHostTypes::Postgres",
    "sqlite": "RemoteHostTypes::SQLite",
    "mysql": "RemoteHostTypes::MySQL",
    "mariadb": "RemoteHostTypes::MySQL",
}


def host_type_for(url: str) -> str:
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise BadRequest(
            f"{url!r} is not a SQLAlchemy URL; use e.g. postgresql://host:5432/db or "
            "duckdb:////path/to/file.duckdb"
        ) from None
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
) -> RemoteHostRow:
    """Record a database by name and SQLAlchemy URL (the URL is encrypted at rest)."""
    name = name.strip()
    if not name or len(name) > 255:
        raise BadRequest("a database needs a name of 1 to 255 characters")
    if session.scalar(select(RemoteHostRow.id).where(RemoteHostRow.name == name)) is not None:
        raise Conflict(f"a database named {name!r} already exists; choose another name")
    row = RemoteHostRow(
        owner_id=owner_id,
        name=name,
        type=host_type_for(url),
        url_encrypted=secrets.encrypt(url),
        description=description,
        is_embedded=embedded,
    )
    session.add(row)
    session.flush()
    return row


def embedded_database(session: Session) -> RemoteHostRow | None:
    return session.scalar(select(RemoteHostRow).where(RemoteHostRow.is_embedded.is_(True)))

"""First start: migrate, create the first admin, register the embedded DuckDB warehouse."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from civica.db.locks import exclusive
from civica.db.migrate import upgrade
from civica.db.models import UserRow
from civica.platform import Platform
from civica.services import databases, users

ADMIN_USERNAME = "admin"


@dataclass
class Prepared:
    admin_username: str
    new_admin_key: str | None  # set only when a key was generated on this start


def prepare(platform: Platform) -> Prepared:
    """Make the data folder and metadata database ready; idempotent, and safe when several
    processes sharing one metadata database start at once (they take turns)."""
    with exclusive(platform.engine, "prepare"):
        return _prepare(platform)


def _prepare(platform: Platform) -> Prepared:
    upgrade(platform.engine)
    settings = platform.settings
    new_key: str | None = None
    with platform.transaction() as session:
        admin = session.scalar(
            select(UserRow).where(UserRow.is_admin.is_(True)).order_by(UserRow.id).limit(1)
        )
        if admin is None:
            admin = users.create_user(
                session=session, username=ADMIN_USERNAME, name="Administrator", is_admin=True
            )
            _, plain = users.issue_api_key(
                session=session, user=admin, name="first admin key", key=settings.admin_api_key
            )
            new_key = None if settings.admin_api_key else plain
        elif settings.admin_api_key:
            _ensure_key(session, admin, settings.admin_api_key)
        if databases.embedded_database(session) is None:
            settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
            databases.register_database(
                session=session,
                secrets=platform.secrets,
                owner_id=admin.id,
                name=databases.EMBEDDED_NAME,
                url=f"duckdb:///{settings.warehouse_path}",
                description="The embedded DuckDB warehouse in the data folder.",
                embedded=True,
            )
    return Prepared(admin_username=admin.username, new_admin_key=new_key)


def _ensure_key(session: object, admin: UserRow, key: str) -> None:
    """CIVICA_ADMIN_API_KEY keeps working across restarts, even if set after the first start."""
    from sqlalchemy.orm import Session

    from civica.db.models import ApiKeyRow
    from civica.security import hash_api_key

    assert isinstance(session, Session)
    if session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.key_hash == hash_api_key(key))) is None:
        users.issue_api_key(session=session, user=admin, name="CIVICA_ADMIN_API_KEY", key=key)

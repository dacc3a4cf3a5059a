"""Your API keys: list (never the keys), create (the key is shown once), revoke. Every function
here acts only on the signed-in user's own keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Form
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from civica.db.models import ApiKeyRow, UserRow
from civica.services import users
from civica.services.actor import Actor
from civica.services.errors import BadRequest, NotFound
from civica.web.core import PREFIX, PageError, Web, page_router, shown_on_form, signed_in

router = page_router()
NAV = ("API keys", f"{PREFIX}/keys")
WebDep = Annotated[Web, Depends(signed_in)]
MAX_DAYS = 3650


@dataclass(frozen=True)
class KeyItem:
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "active"


def list_my_keys(*, session: Session, actor: Actor) -> list[KeyItem]:
    rows = session.scalars(
        select(ApiKeyRow).where(ApiKeyRow.user_id == actor.user_id).order_by(ApiKeyRow.id.desc())
    ).all()
    return [
        KeyItem(r.id, r.name, r.prefix, r.created_at, r.expires_at, r.last_used_at, r.revoked_at)
        for r in rows
    ]


def create_my_key(*, session: Session, actor: Actor, name: str, days: int | None) -> str:
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"expires in must be between 1 and {MAX_DAYS} days, or empty for never")
    user = session.get(UserRow, actor.user_id)
    if user is None:
        raise NotFound("your user no longer exists")
    _, key = users.issue_api_key(
        session=session,
        user=user,
        name=name.strip()[:255],
        expires_in=timedelta(days=days) if days else None,
    )
    return key


def revoke_my_key(*, session: Session, actor: Actor, key_id: int) -> None:
    row = session.get(ApiKeyRow, key_id)
    if row is None or row.user_id != actor.user_id:
        raise NotFound(f"you have no API key {key_id}")
    users.revoke_api_key(session=session, key_id=key_id)


def _list(
    web: Web, new_key: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    return web.render(
        "keys/list.html",
        status_code=status,
        keys=web.call(list_my_keys),
        new_key=new_key,
        error=error,
        current_key_id=web.session.key_id,
    )


@router.get("/keys")
def list_keys(web: WebDep) -> Response:
    return _list(web)


@router.post("/keys")
def create_key(
    web: WebDep, name: Annotated[str, Form()] = "", days: Annotated[str, Form()] = ""
) -> Response:
    try:
        if days.strip() and not days.strip().isdigit():
            raise PageError(400, "expires in must be a whole number of days, or empty for never")
        key = web.call(create_my_key, name=name, days=int(days) if days.strip() else None)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _list(web, error=exc.description, status=exc.status_code)
    # Shown once, in this response only (not a redirect: the key is never stored in plain).
    response = _list(web, new_key=key)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/keys/{key_id}/revoke")
def revoke_key(key_id: int, web: WebDep) -> Response:
    web.call(revoke_my_key, key_id=key_id)
    web.request.app.state.auth_cache.clear()
    return web.redirect(f"{PREFIX}/keys")

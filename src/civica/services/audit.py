"""The audit trail: every state-changing API call, recorded after it is answered; admins read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from civica.db.models import AuditEventRow
from civica.schemas.audit import AuditEvent
from civica.services.actor import Actor
from civica.services.errors import BadRequest, Forbidden
from civica.services.paging import Page, PageParams

ORDERS = ("id",)


@dataclass(frozen=True)
class Event:
    user_id: int | None
    username: str | None
    method: str
    route: str
    path: str
    object_type: str | None
    object_id: int | None
    status: int
    client_ip: str | None


def record(session: Session, event: Event) -> None:
    """Add the event's row to the session's transaction."""
    record_on(session.connection(), event)


_INSERT = insert(AuditEventRow)


def record_on(connection: Connection, event: Event) -> None:
    """Write the event's row on a Core connection (its transaction): one INSERT, without the
    ORM's unit of work, as the middleware does after every state-changing call."""
    connection.execute(
        _INSERT,
        {
            "user_id": event.user_id,
            "username": event.username,
            "method": event.method,
            "route": event.route[:255],
            "path": event.path[:1024],
            "object_type": event.object_type,
            "object_id": event.object_id,
            "status": event.status,
            "client_ip": event.client_ip,
        },
    )


def list_events(
    *,
    session: Session,
    actor: Actor,
    params: PageParams,
    user_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    since: datetime | None = None,
) -> Page[AuditEvent]:
    if not actor.is_admin:
        raise Forbidden("only admins can read the audit trail")
    if object_id is not None and object_type is None:
        raise BadRequest("object_id needs object_type too (e.g. object_type=scripts/python3)")
    query = select(AuditEventRow)
    if user_id is not None:
        query = query.where(AuditEventRow.user_id == user_id)
    if object_type is not None:
        query = query.where(AuditEventRow.object_type == object_type.strip("/"))
    if object_id is not None:
        query = query.where(AuditEventRow.object_id == object_id)
    if since is not None:
        query = query.where(AuditEventRow.at >= since)
    order = AuditEventRow.id.asc() if params.order_dir == "asc" else AuditEventRow.id.desc()
    rows = session.scalars(query.order_by(order).offset(params.offset).limit(params.limit)).all()
    total = params.total_from(len(rows))
    if total is None:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = [AuditEvent.model_validate(row) for row in rows]
    return Page(items=items, total=total, params=params)

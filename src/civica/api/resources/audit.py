"""`/audit`: the audit trail, for admins (not one of the seed's resources)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute
from civica.api.wire import pagination
from civica.schemas.audit import AuditEvent
from civica.services import audit as svc
from civica.services.paging import PageParams

router = APIRouter(tags=["audit"], route_class=CivicaRoute)
Paging = Annotated[
    PageParams, Depends(pagination(svc.ORDERS, default_order="id", default_limit=100))
]


@router.get("/audit", summary="List state-changing API calls, newest first (admins only)")
def list_audit(
    ctx: CtxDep,
    response: Response,
    paging: Paging,
    user_id: int | None = Query(None, description="Only calls by this user."),
    object_type: str | None = Query(
        None, description="Only calls on this kind of object, e.g. scripts/python3 or projects."
    ),
    object_id: int | None = Query(
        None, description="Only calls on this object (with object_type)."
    ),
    since: datetime | None = Query(None, description="Only calls at or after this time."),
) -> list[AuditEvent]:
    page = ctx.call(
        svc.list_events,
        params=paging,
        user_id=user_id,
        object_type=object_type,
        object_id=object_id,
        since=since,
    )
    return page.respond(response)

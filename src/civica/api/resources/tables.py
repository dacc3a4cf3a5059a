"""`/tables`: the tables of a database (the public client's `get_table_id` reads `[0].id`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.wire import PageParams, pagination
from civica.schemas.tables import TableSummary
from civica.services import tables as svc

router = APIRouter(tags=["tables"], route_class=CivicaRoute)
Paging = Annotated[
    PageParams,
    Depends(pagination(svc.ORDERS, default_order="schema", default_limit=50, max_limit=1000)),
]


@router.get("/tables", summary="List tables")
@inline
def list_tables(
    ctx: CtxDep,
    request: Request,
    response: Response,
    page: Paging,
    database_id: int | None = Query(
        None, description="The ID of the database (required: tables are read from it)."
    ),
    schema: str | None = Query(None, description="If specified, only tables in this schema."),
    name: str | None = Query(None, description="If specified, only tables of this name."),
    search: str | None = Query(
        None, description="If specified, only tables whose schema.name contains this text."
    ),
    credential_id: int | None = Query(
        None, description="If provided, the database is reached with this credential's login."
    ),
) -> list[TableSummary]:
    result = ctx.call(
        svc.list_tables,
        page=page,
        client_ip=request.client.host if request.client else None,
        database_id=database_id,
        schema=schema,
        name=name,
        search=search,
        credential_id=credential_id,
    )
    return result.respond(response)

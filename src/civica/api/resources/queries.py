"""`/queries`: thin routes over civica.services.queries, with the shared runs routes (start,
list, check, cancel) mounted under it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.subresources.runs import runs_router
from civica.api.wire import PageParams, pagination
from civica.schemas.queries import Query as QueryOut
from civica.schemas.queries import QueryCreate, QuerySummary
from civica.services import queries as svc

router = APIRouter(tags=["queries"], route_class=CivicaRoute)
Paging = Annotated[
    PageParams, Depends(pagination(svc.ORDERS, default_order="created_at", max_limit=50))
]


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/queries", summary="List all queries")
@inline
def list_queries(
    ctx: CtxDep,
    response: Response,
    page: Paging,
    database_id: int | None = Query(None, description="The database ID."),
    author_id: int | None = Query(None, description="The author of the query."),
    created_before: str | None = Query(
        None, description="An upper bound for the creation date of the query."
    ),
    hidden: bool | None = Query(
        None,
        description="If specified to be true, returns hidden items. Defaults to false, returning "
        "non-hidden items.",
    ),
) -> list[QuerySummary]:
    result = ctx.call(
        svc.list_queries,
        page=page,
        database_id=database_id,
        author_id=author_id,
        created_before=created_before,
        hidden=hidden,
    )
    return result.respond(response)


@router.post("/queries", summary="Execute a query", status_code=200)
def post_queries(body: QueryCreate, ctx: CtxDep, request: Request) -> QueryOut:
    return ctx.call(svc.create_query, body=body, client_ip=_client_ip(request))


@router.get("/queries/{id}", summary="Get details about a query")
@inline
def get_query(id: int, ctx: CtxDep) -> QueryOut:
    return ctx.call(svc.get_query, query_id=id)


@router.put(
    "/queries/{id}/scripts/{script_id}", summary="Update the query\u2019s associated script"
)
def put_scripts(id: int, script_id: int, ctx: CtxDep) -> QueryOut:
    return ctx.call(svc.put_query_script, query_id=id, script_id=script_id)


def _query_runs() -> APIRouter:
    """Start, list, check and cancel runs: the shared runs routes without logs and outputs
    (reach those through /jobs/{id}/runs/{run_id})."""
    kept = {"/queries/{id}/runs", "/queries/{id}/runs/{run_id}"}
    shared = runs_router(svc.QUERY)
    sub = APIRouter(tags=["queries"], route_class=CivicaRoute)
    sub.routes.extend(r for r in shared.routes if isinstance(r, APIRoute) and r.path in kept)
    return sub


router.include_router(_query_runs())

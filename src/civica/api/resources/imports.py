"""`/imports`: thin routes over civica.services.imports (database-to-database syncs), with
runs (`/imports/{id}/runs`, `/imports/files/{id}/runs`), shares, projects and archive."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.routing import APIRoute

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.subresources.archive import archive_router
from civica.api.subresources.projects import projects_router
from civica.api.subresources.runs import runs_router
from civica.api.subresources.shares import shares_router
from civica.api.wire import PageParams, pagination
from civica.schemas.imports import (
    Import,
    ImportCreate,
    ImportRun,
    ImportRunCreated,
    ImportSummary,
    Sync,
    SyncCreate,
)
from civica.schemas.jobs import RunCancelled
from civica.services import imports as svc

router = APIRouter(tags=["imports"], route_class=CivicaRoute)
Paging = Annotated[
    PageParams, Depends(pagination(svc.ORDERS, default_order="updated_at", max_limit=1000))
]


@router.get("/imports", summary="List imports")
@inline
def list_imports(
    ctx: CtxDep,
    response: Response,
    page: Paging,
    type: str | None = Query(None, description="If specified, return imports of these types."),
    author: str | None = Query(
        None, description="If specified, return items from any of these authors (user IDs)."
    ),
    destination: str | None = Query(None, description="Accepted; not used."),
    status: str | None = Query(None, description="Accepted; not used."),
    hidden: bool | None = Query(
        None,
        description="If specified to be true, returns hidden items. Defaults to false, returning "
        "non-hidden items.",
    ),
    archived: str | None = Query(
        None, description="The archival status of the requested object(s)."
    ),
) -> list[ImportSummary]:
    result = ctx.call(
        svc.list_imports,
        page=page,
        type=type,
        author=author,
        destination=destination,
        status=status,
        hidden=hidden,
        archived=archived,
    )
    return result.respond(response)


@router.post("/imports", summary="Create a new import configuration", status_code=200)
def post_imports(body: ImportCreate, ctx: CtxDep) -> Import:
    return ctx.call(svc.create_import, body=body)


@router.get("/imports/{id}", summary="Get details about an import")
@inline
def get_import(id: int, ctx: CtxDep) -> Import:
    return ctx.call(svc.get_import, import_id=id)


@router.put("/imports/{id}", summary="Update an import")
def put_import(id: int, body: ImportCreate, ctx: CtxDep) -> Import:
    return ctx.call(svc.replace_import, import_id=id, body=body)


@router.post("/imports/{id}/syncs", summary="Create a sync", status_code=201)
def post_syncs(id: int, body: SyncCreate, ctx: CtxDep) -> Sync:
    return ctx.call(svc.create_sync, import_id=id, body=body)


@router.put("/imports/{id}/syncs/{sync_id}", summary="Update a sync")
def put_syncs(id: int, sync_id: int, body: SyncCreate, ctx: CtxDep) -> Sync:
    return ctx.call(svc.update_sync, import_id=id, sync_id=sync_id, body=body)


@router.delete(
    "/imports/{id}/syncs/{sync_id}",
    summary="Delete a sync",
    status_code=204,
    response_class=Response,
)
def delete_syncs(id: int, sync_id: int, ctx: CtxDep) -> None:
    ctx.call(svc.delete_sync, import_id=id, sync_id=sync_id)


@router.post("/imports/{id}/runs", summary="Run an import", status_code=202)
def post_runs(id: int, ctx: CtxDep) -> ImportRunCreated:
    return ctx.call(svc.run_import, import_id=id)


@router.get("/imports/{id}/runs", summary="Get the run history of this import")
@inline
def list_runs(id: int, ctx: CtxDep) -> list[ImportRun]:
    runs: Any = ctx.call(svc.list_import_runs, import_id=id)
    return list(runs)


@router.post("/imports/{id}/cancel", summary="Cancel a run", status_code=202)
def post_cancel(id: int, ctx: CtxDep) -> RunCancelled:
    return ctx.call(svc.cancel_import, import_id=id)


def _file_runs() -> APIRouter:
    """Start, list, check and cancel runs under `/imports/files/{id}/runs` (the public client
    polls `transfer_table` runs there)."""
    kept = {"/imports/files/{id}/runs", "/imports/files/{id}/runs/{run_id}"}
    sub = APIRouter(tags=["imports"], route_class=CivicaRoute)
    shared = runs_router(svc.IMPORT_RUNS)
    sub.routes.extend(r for r in shared.routes if isinstance(r, APIRoute) and r.path in kept)
    return sub


router.include_router(_file_runs())
for _sub in (shares_router(svc.IMPORT), projects_router(svc.IMPORT), archive_router(svc.IMPORT)):
    router.include_router(_sub)

"""`/imports`: thin routes over civica.services.imports (database-to-database syncs), with
runs (`/imports/{id}/runs`, `/imports/files/{id}/runs`), shares, projects and archive."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.subresources.archive import archive_router
from civica.api.subresources.projects import projects_router
from civica.api.subresources.runs import runs_router
from civica.api.subresources.shares import shares_router
from civica.api.wire import PageParams, pagination
from civica.schemas.imports import (
    BatchImport,
    BatchImportCreate,
    CsvImport,
    CsvImportCreate,
    FileImportCreate,
    FileImportPost,
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
from civica.services.runs import RunnableKind

router = APIRouter(tags=["imports"], route_class=CivicaRoute)


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


Paging = Annotated[
    PageParams, Depends(pagination(svc.ORDERS, default_order="updated_at", max_limit=1000))
]
BatchPaging = Annotated[
    PageParams, Depends(pagination(svc.BATCH_ORDERS, default_order="updated_at", max_limit=50))
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


@router.post(
    "/imports/files",
    summary="Initate an import of a tabular file into the platform",
    status_code=201,
)
def post_files(body: FileImportCreate, request: Request, ctx: CtxDep) -> FileImportPost:
    return ctx.call(
        svc.create_file_import,
        body=body,
        base_url=str(request.base_url),
        client_ip=_client_ip(request),
    )


@router.post("/imports/files/csv", summary="Create a CSV Import", status_code=201)
def post_files_csv(body: CsvImportCreate, request: Request, ctx: CtxDep) -> CsvImport:
    return ctx.call(svc.create_csv_import, body=body, client_ip=_client_ip(request))


@router.post("/imports/batches", summary="Upload multiple files to Redshift", status_code=201)
def post_batches(body: BatchImportCreate, request: Request, ctx: CtxDep) -> BatchImport:
    return ctx.call(svc.create_batch, body=body, client_ip=_client_ip(request))


@router.get("/imports/batches", summary="List batch imports")
@inline
def list_batches(
    ctx: CtxDep,
    response: Response,
    page: BatchPaging,
    hidden: bool | None = Query(
        None,
        description="If specified to be true, returns hidden items. Defaults to false, returning "
        "non-hidden items.",
    ),
) -> list[BatchImport]:
    return ctx.call(svc.list_batches, page=page, hidden=hidden).respond(response)


@router.get("/imports/batches/{id}", summary="Get details about a batch import")
@inline
def get_batches(id: int, ctx: CtxDep) -> BatchImport:
    return ctx.call(svc.get_batch, batch_id=id)


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
def post_runs(id: int, request: Request, ctx: CtxDep) -> ImportRunCreated:
    return ctx.call(svc.run_import, import_id=id, client_ip=_client_ip(request))


@router.get("/imports/{id}/runs", summary="Get the run history of this import")
@inline
def list_runs(id: int, ctx: CtxDep) -> list[ImportRun]:
    runs: Any = ctx.call(svc.list_import_runs, import_id=id)
    return list(runs)


@router.post("/imports/{id}/cancel", summary="Cancel a run", status_code=202)
def post_cancel(id: int, ctx: CtxDep) -> RunCancelled:
    return ctx.call(svc.cancel_import, import_id=id)


def _runs(rkind: RunnableKind, kept: set[str]) -> APIRouter:
    """Runs of one import kind under `/{rkind.path}/{id}/runs`: the shared routes in `kept`,
    with its own start, which first checks the databases' whitelists against the caller."""
    sub = APIRouter(tags=["imports"], route_class=CivicaRoute)
    base = f"/{rkind.path}/{{id}}/runs"
    schema: Any = rkind.run_schema

    @sub.post(base, summary="Start a run", status_code=202, response_model=schema)
    def post_runs(id: int, request: Request, ctx: CtxDep) -> Any:
        return ctx.call(svc.start_import_run, rkind=rkind, job_id=id, client_ip=_client_ip(request))

    shared = runs_router(rkind)
    sub.routes.extend(
        r
        for r in shared.routes
        if isinstance(r, APIRoute)
        and r.path in kept
        and not (r.path == base and "POST" in (r.methods or set()))
    )
    return sub


# `/imports/files/{id}/runs`: runs of imports (the public client polls `transfer_table` runs here).
# `/imports/files/csv/{id}/runs`: runs of CSV imports, with their logs.
FILE_RUNS = {"/imports/files/{id}/runs", "/imports/files/{id}/runs/{run_id}"}
CSV_RUNS = {"/imports/files/csv/{id}/runs", "/imports/files/csv/{id}/runs/{run_id}",
            "/imports/files/csv/{id}/runs/{run_id}/logs"}  # fmt: skip
router.include_router(_runs(svc.IMPORT_RUNS, FILE_RUNS))
router.include_router(_runs(svc.CSV_IMPORT_RUNS, CSV_RUNS))
for _sub in (shares_router(svc.IMPORT), projects_router(svc.IMPORT), archive_router(svc.IMPORT)):
    router.include_router(_sub)

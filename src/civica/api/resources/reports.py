"""`/reports`: thin routes over civica.services.reports, with shares, projects and archive from
the shared factories. The report's page itself is served by `report_content` (not an API
operation)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute
from civica.api.subresources.archive import archive_router
from civica.api.subresources.projects import projects_router
from civica.api.subresources.shares import shares_router
from civica.api.wire import PageParams, pagination
from civica.schemas.reports import (
    Report,
    ReportCreate,
    ReportSummary,
    ReportUpdate,
    Snapshot,
    SnapshotIn,
)
from civica.services import reports as svc

router = APIRouter(tags=["reports"], route_class=CivicaRoute)
Paging = Annotated[PageParams, Depends(pagination(svc.ORDERS, max_limit=50))]


@router.get("/reports", summary="List the reports visible to the current user")
def list_reports(
    ctx: CtxDep,
    response: Response,
    page: Paging,
    type: str | None = Query(
        None,
        description="If specified, return report of these types. It accepts a comma-separated "
        "list, possible values are 'tableau', 'other'.",
    ),
    author: str | None = Query(
        None,
        description="If specified, return reports from this author. It accepts a comma-separated "
        "list of author ids.",
    ),
    template_id: int | None = Query(
        None, description="If specified, return reports using the provided Template."
    ),
    hidden: bool | None = Query(
        None,
        description="If specified to be true, returns hidden items. Defaults to false, returning "
        "non-hidden items.",
    ),
    archived: str | None = Query(
        None, description="The archival status of the requested object(s)."
    ),
) -> list[ReportSummary]:
    result = ctx.call(
        svc.list_reports,
        page=page,
        type=type,
        author=author,
        template_id=template_id,
        hidden=hidden,
        archived=archived,
    )
    return result.respond(response)


@router.post("/reports", summary="Create a report", status_code=200)
def post_report(body: ReportCreate, request: Request, ctx: CtxDep) -> Report:
    return ctx.call(svc.create_report, body=body, base_url=str(request.base_url))


@router.get("/reports/{id}", summary="Show a single report")
def get_report(id: int, request: Request, ctx: CtxDep) -> Report:
    return ctx.call(svc.get_report, report_id=id, base_url=str(request.base_url))


@router.patch("/reports/{id}", summary="Update a report")
def patch_report(id: int, body: ReportUpdate, request: Request, ctx: CtxDep) -> Report:
    return ctx.call(svc.update_report, report_id=id, body=body, base_url=str(request.base_url))


@router.post(
    "/reports/{id}/grants",
    summary="Grant this report the ability to perform Civis platform API operations on your behalf",
    status_code=200,
)
def post_grants(id: int, request: Request, ctx: CtxDep) -> Report:
    return ctx.call(svc.grant_report, report_id=id, base_url=str(request.base_url))


@router.delete(
    "/reports/{id}/grants",
    summary="Revoke permisstion for this report to perform Civis platform API operations on "
    "your behalf",
    status_code=204,
    response_class=Response,
)
def delete_grants(id: int, ctx: CtxDep) -> None:
    ctx.call(svc.revoke_report_grant, report_id=id)


@router.get(
    "/reports/{id}/snapshots",
    summary="Get details about the report\u2019s snapshot automation settings",
)
def list_snapshots(id: int, ctx: CtxDep) -> list[Snapshot]:
    return ctx.call(svc.list_snapshots, report_id=id)


@router.post(
    "/reports/{id}/snapshots",
    summary="Generate and optionally email a snapshot of the specified report",
    status_code=200,
)
def post_snapshots(id: int, body: SnapshotIn, ctx: CtxDep) -> Snapshot:
    return ctx.call(svc.post_snapshot, report_id=id, body=body)


@router.patch(
    "/reports/{id}/snapshots",
    summary="Update the report\u2019s snapshot automation settings",
)
def patch_snapshots(id: int, body: SnapshotIn, ctx: CtxDep) -> Snapshot:
    return ctx.call(svc.update_snapshot, report_id=id, body=body)


for _sub in (shares_router(svc.REPORT), projects_router(svc.REPORT), archive_router(svc.REPORT)):
    router.include_router(_sub)

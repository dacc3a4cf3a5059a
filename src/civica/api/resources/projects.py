"""`/projects`: thin routes over civica.services.projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.subresources.archive import archive_router
from civica.api.subresources.shares import shares_router
from civica.api.wire import PageParams, pagination
from civica.schemas.projects import Project, ProjectCreate, ProjectSummary, ProjectUpdate
from civica.services import projects as svc

router = APIRouter(tags=["projects"], route_class=CivicaRoute)
Paging = Annotated[PageParams, Depends(pagination(svc.ORDERS))]


@router.get("/projects", summary="List projects")
@inline
def list_projects(
    ctx: CtxDep,
    response: Response,
    page: Paging,
    author: str | None = Query(
        None,
        description="If specified, return projects owned by this author. It accepts a "
        "comma-separated list of author ids.",
    ),
    permission: str | None = Query(
        None,
        description='A permissions string, one of "read", "write", or "manage". Lists only '
        "projects for which the current user has that permission.",
    ),
    hidden: bool | None = Query(
        None,
        description="If specified to be true, returns hidden items. Defaults to false, returning "
        "non-hidden items.",
    ),
    archived: str | None = Query(
        None, description="The archival status of the requested object(s)."
    ),
    auto_share: bool | None = Query(None, description="Used to filter projects by auto_share."),
) -> list[ProjectSummary]:
    result = ctx.call(
        svc.list_projects,
        page=page,
        author=author,
        permission=permission,
        hidden=hidden,
        archived=archived,
        auto_share=auto_share,
    )
    return result.respond(response)


@router.post("/projects", summary="Create a project")
def post_project(body: ProjectCreate, ctx: CtxDep) -> Project:
    return ctx.call(svc.create_project, body=body)


@router.get(
    "/projects/{project_id}", summary="Get a detailed view of a project and the objects in it"
)
@inline
def get_project(project_id: int, ctx: CtxDep) -> Project:
    return ctx.call(svc.get_project, project_id=project_id)


@router.put("/projects/{project_id}", summary="Update a project")
def put_project(project_id: int, body: ProjectUpdate, ctx: CtxDep) -> Project:
    return ctx.call(svc.update_project, project_id=project_id, body=body)


router.include_router(shares_router(svc.PROJECT))
router.include_router(archive_router(svc.PROJECT))

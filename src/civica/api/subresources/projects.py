"""`/{kind}/{id}/projects`: the projects an object is in; add to and remove from a project."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.schemas.common import ProjectRef
from civica.services import objects
from civica.services.kinds import ObjectKind


def projects_router(kind: ObjectKind) -> APIRouter:
    router = APIRouter(tags=[kind.path], route_class=CivicaRoute)
    base = f"/{kind.path}/{{id}}/projects"
    name = kind.summary_name

    @router.get(base, summary=f"List the projects a {name} belongs to")
    @inline
    def list_projects(
        id: int,
        ctx: CtxDep,
        hidden: bool | None = Query(
            None,
            description="If specified to be true, returns hidden items. Defaults to false, "
            "returning non-hidden items.",
        ),
    ) -> list[ProjectRef]:
        return ctx.call(objects.list_object_projects, kind=kind, object_id=id, hidden=hidden)

    @router.put(
        f"{base}/{{project_id}}",
        summary=f"Add a {name} to a project",
        status_code=204,
        response_class=Response,
    )
    def put_projects(id: int, project_id: int, ctx: CtxDep) -> None:
        ctx.call(objects.put_object_project, kind=kind, object_id=id, project_id=project_id)

    @router.delete(
        f"{base}/{{project_id}}",
        summary=f"Remove a {name} from a project",
        status_code=204,
        response_class=Response,
    )
    def delete_projects(id: int, project_id: int, ctx: CtxDep) -> None:
        ctx.call(objects.delete_object_project, kind=kind, object_id=id, project_id=project_id)

    return router

"""Projects: the list, a new project, one project's contents; and the generic "Projects" dialog
that puts any object in a project (over `civica.services.objects`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form
from fastapi.responses import Response

from civica.schemas.projects import ProjectCreate
from civica.services import objects
from civica.services import projects as svc
from civica.services.kinds import KINDS, ObjectKind
from civica.web.core import (
    PREFIX,
    PageError,
    Web,
    object_page,
    page,
    page_router,
    shown_on_form,
    signed_in,
)

router = page_router()
NAV = ("Projects", f"{PREFIX}/projects")
object_page("project", PREFIX + "/projects/{id}")
WebDep = Annotated[Web, Depends(signed_in)]


def _list(web: Web, error: str | None = None, status_code: int = 200) -> Response:
    found = web.call(svc.list_projects, page=web.list_page())
    return web.render(
        "projects/list.html",
        status_code=status_code,
        projects=found.items,
        pager=web.pager(total=found.total),
        error=error,
    )


@router.get("/projects")
def list_projects(web: WebDep) -> Response:
    return _list(web)


@router.post("/projects")
def create_project(
    web: WebDep,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    try:
        body = web.build(ProjectCreate, {"name": name.strip(), "description": description})
        project = web.call(svc.create_project, body=body)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _list(web, exc.description, exc.status_code)
    return web.redirect(f"{PREFIX}/projects/{project.id}")


@router.get("/projects/{project_id}")
def show_project(project_id: int, web: WebDep) -> Response:
    project = web.call(svc.get_project, project_id=project_id)
    return web.render("projects/detail.html", project=project)


# -- any object's projects (the dialog) ----------------------------------------------------------


def _kind(object_type: str) -> ObjectKind:
    kind = KINDS.get(object_type)
    if kind is None or object_type == "project":
        raise PageError(404, f"there is no kind of object called {object_type!r}")
    return kind


def _dialog(web: Web, kind: ObjectKind, object_id: int, error: str | None = None) -> Response:
    current = web.call(objects.list_object_projects, kind=kind, object_id=object_id)
    mine = web.call(svc.list_projects, page=page(limit=200), permission="write")
    current_ids = {p.id for p in current}
    return web.render(
        "projects/_dialog.html",
        kind=kind,
        object_id=object_id,
        current=current,
        candidates=[p for p in mine.items if p.id not in current_ids],
        error=error,
    )


@router.get("/objects/{object_type}/{object_id}/projects")
def object_projects(object_type: str, object_id: int, web: WebDep) -> Response:
    return _dialog(web, _kind(object_type), object_id)


@router.post("/objects/{object_type}/{object_id}/projects")
def add_to_project(
    object_type: str,
    object_id: int,
    web: WebDep,
    project_id: Annotated[int, Form()],
    action: Annotated[str, Form()] = "add",
) -> Response:
    kind = _kind(object_type)
    fn = objects.delete_object_project if action == "remove" else objects.put_object_project
    try:
        web.call(fn, kind=kind, object_id=object_id, project_id=project_id)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _dialog(web, kind, object_id, exc.description)
    return _dialog(web, kind, object_id)

"""`/templates/scripts`: publish scripts as templates for custom scripts; thin routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.subresources.shares import shares_router
from civica.api.wire import PageParams, pagination
from civica.schemas.templates import (
    ScriptTemplate,
    ScriptTemplateCreate,
    ScriptTemplateReplace,
    ScriptTemplateSummary,
    ScriptTemplateUpdate,
)
from civica.services import templates as svc

router = APIRouter(tags=["templates"], route_class=CivicaRoute)
Paging = Annotated[
    PageParams,
    Depends(pagination(svc.ORDERS, default_order="name", default_limit=50, max_limit=1000)),
]


@router.get("/templates/scripts", summary="List Script Templates")
@inline
def list_scripts(
    ctx: CtxDep,
    response: Response,
    page: Paging,
    hidden: bool | None = Query(
        None,
        description="If specified to be true, returns hidden items. Defaults to false, returning "
        "non-hidden items.",
    ),
    author: str | None = Query(
        None,
        description="If specified, return items from any of these authors. It accepts a "
        "comma-separated list of user IDs.",
    ),
    category: str | None = Query(
        None,
        description="A category to filter results by, one of: import, export, enhancement, "
        "model or script",
    ),
) -> list[ScriptTemplateSummary]:
    result = ctx.call(
        svc.list_templates, page=page, hidden=hidden, author=author, category=category
    )
    return result.respond(response)


@router.post("/templates/scripts", summary="Create a Script Template", status_code=201)
def post_scripts(body: ScriptTemplateCreate, ctx: CtxDep) -> ScriptTemplate:
    return ctx.call(svc.create_template, body=body)


@router.get("/templates/scripts/{id}", summary="Get a Script Template")
@inline
def get_scripts(id: int, ctx: CtxDep) -> ScriptTemplate:
    return ctx.call(svc.get_template, template_id=id)


@router.put("/templates/scripts/{id}", summary="Replace all attributes of this Script Template")
def put_scripts(id: int, body: ScriptTemplateReplace, ctx: CtxDep) -> ScriptTemplate:
    return ctx.call(svc.replace_template, template_id=id, body=body)


@router.patch("/templates/scripts/{id}", summary="Update some attributes of this Script Template")
def patch_scripts(id: int, body: ScriptTemplateUpdate, ctx: CtxDep) -> ScriptTemplate:
    return ctx.call(svc.update_template, template_id=id, body=body)


router.include_router(shares_router(svc.TEMPLATE))

"""`/scripts`: thin routes over civica.services.scripts, for every script type, with the shared
runs, shares, projects and archive routers mounted under each type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.subresources.archive import archive_router
from civica.api.subresources.projects import projects_router
from civica.api.subresources.runs import runs_router
from civica.api.subresources.shares import shares_router
from civica.api.wire import PageParams, pagination
from civica.schemas.scripts import (
    ContainerScript,
    ContainerScriptCreate,
    ContainerScriptReplace,
    ContainerScriptUpdate,
    CustomScript,
    CustomScriptCreate,
    CustomScriptSummary,
    CustomScriptUpdate,
    JavaScriptScript,
    JavaScriptScriptCreate,
    JavaScriptScriptReplace,
    JavaScriptScriptUpdate,
    PythonScript,
    PythonScriptCreate,
    PythonScriptReplace,
    PythonScriptUpdate,
    RScript,
    RScriptCreate,
    RScriptReplace,
    RScriptUpdate,
    Script,
    ScriptCancelled,
    ScriptHistoryRun,
    ScriptSummary,
    ScriptType,
    ScriptUpdate,
)
from civica.schemas.sql_scripts import (
    LegacyScriptCreate,
    SqlRun,
    SqlScript,
    SqlScriptCreate,
    SqlScriptReplace,
    SqlScriptUpdate,
)
from civica.services import runs as runs_svc
from civica.services import scripts as svc
from civica.services import sql_scripts as sql_svc

router = APIRouter(tags=["scripts"], route_class=CivicaRoute)
Paging = Annotated[
    PageParams, Depends(pagination(svc.ORDERS, default_order="updated_at", max_limit=50))
]
CustomPaging = Annotated[
    PageParams, Depends(pagination(svc.CUSTOM_ORDERS, default_order="updated_at", default_limit=50))
]
HIDDEN = Query(
    None,
    description="If specified to be true, returns hidden items. Defaults to false, returning "
    "non-hidden items.",
)
ARCHIVED = Query(None, description="The archival status of the requested object(s).")
AUTHOR = Query(
    None,
    description="If specified, return items from any of these authors. It accepts a "
    "comma-separated list of user IDs.",
)
STATUS = Query(
    None,
    description="If specified, returns items with one of these statuses. It accepts a "
    "comma-separated list, possible values are 'running', 'failed', 'succeeded', 'idle', "
    "'scheduled'.",
)


# --- Any script (fixed paths first, so /scripts/types is not read as /scripts/{id}) ---


@router.get("/scripts/types", summary="List available script types")
@inline
def list_types(ctx: CtxDep) -> list[ScriptType]:
    return ctx.call(svc.list_script_types)


@router.get("/scripts/custom", summary="List Custom Scripts")
@inline
def list_custom(
    ctx: CtxDep,
    response: Response,
    page: CustomPaging,
    from_template_id: str | None = Query(
        None,
        description="If specified, return scripts based on the template with this ID. Specify "
        "multiple IDs as a comma-separated list.",
    ),
    author: str | None = AUTHOR,
    status: str | None = STATUS,
    hidden: bool | None = HIDDEN,
    archived: str | None = ARCHIVED,
) -> list[CustomScriptSummary]:
    result = ctx.call(
        svc.list_custom_scripts,
        page=page,
        from_template_id=from_template_id,
        author=author,
        status=status,
        hidden=hidden,
        archived=archived,
    )
    return result.respond(response)


@router.get("/scripts", summary="List scripts")
@inline
def list_scripts(
    ctx: CtxDep,
    response: Response,
    page: Paging,
    type: str | None = Query(
        None,
        description="If specified, return objects of these types. The valid types are "
        "'python3', 'r', 'javascript', 'containers' and 'custom'.",
    ),
    author: str | None = AUTHOR,
    status: str | None = STATUS,
    hidden: bool | None = HIDDEN,
    archived: str | None = ARCHIVED,
) -> list[ScriptSummary]:
    result = ctx.call(
        svc.list_scripts,
        page=page,
        type=type,
        author=author,
        status=status,
        hidden=hidden,
        archived=archived,
    )
    return result.respond(response)


@router.post("/scripts", summary="Create a script", status_code=200)
def post_script(body: LegacyScriptCreate, ctx: CtxDep) -> Script:
    return ctx.call(svc.create_legacy_script, body=body)  # type: ignore[return-value]


@router.get("/scripts/{id}", summary="Get details about a script")
@inline
def get_script(id: int, ctx: CtxDep) -> Script:
    return ctx.call(svc.get_any_script, script_id=id)  # type: ignore[return-value]


@router.patch("/scripts/{id}", summary="Update a script")
def patch_script(id: int, body: ScriptUpdate, ctx: CtxDep) -> Script:
    return ctx.call(svc.update_any_script, script_id=id, body=body)  # type: ignore[return-value]


@router.post("/scripts/{id}/run", summary="Run a script", status_code=204, response_class=Response)
def post_run(id: int, ctx: CtxDep) -> None:
    ctx.call(svc.run_any_script, script_id=id)


@router.post("/scripts/{id}/cancel", summary="Cancel a run", status_code=202)
def post_cancel(id: int, ctx: CtxDep) -> ScriptCancelled:
    return ctx.call(svc.cancel_any_script, script_id=id)


@router.get("/scripts/{id}/history", summary="Get the run history and outputs of this script")
@inline
def list_history(id: int, ctx: CtxDep) -> list[ScriptHistoryRun]:
    return ctx.call(svc.list_history, script_id=id)


# --- Python 3 ---

P = svc.PYTHON


@router.post("/scripts/python3", summary="Create a Python Script", status_code=201)
def post_python3(body: PythonScriptCreate, ctx: CtxDep) -> PythonScript:
    return ctx.call(svc.create_script, skind=P, body=body)  # type: ignore[return-value]


@router.get("/scripts/python3/{id}", summary="Get a Python Script")
@inline
def get_python3(id: int, ctx: CtxDep) -> PythonScript:
    return ctx.call(svc.get_script, skind=P, script_id=id)  # type: ignore[return-value]


@router.put("/scripts/python3/{id}", summary="Replace all attributes of this Python Script")
def put_python3(id: int, body: PythonScriptReplace, ctx: CtxDep) -> PythonScript:
    return ctx.call(svc.replace_script, skind=P, script_id=id, body=body)  # type: ignore[return-value]


@router.patch("/scripts/python3/{id}", summary="Update some attributes of this Python Script")
def patch_python3(id: int, body: PythonScriptUpdate, ctx: CtxDep) -> PythonScript:
    return ctx.call(svc.update_script, skind=P, script_id=id, body=body)  # type: ignore[return-value]


# --- R ---

RK = svc.R


@router.post("/scripts/r", summary="Create an R Script", status_code=201)
def post_r(body: RScriptCreate, ctx: CtxDep) -> RScript:
    return ctx.call(svc.create_script, skind=RK, body=body)  # type: ignore[return-value]


@router.get("/scripts/r/{id}", summary="Get an R Script")
@inline
def get_r(id: int, ctx: CtxDep) -> RScript:
    return ctx.call(svc.get_script, skind=RK, script_id=id)  # type: ignore[return-value]


@router.put("/scripts/r/{id}", summary="Replace all attributes of this R Script")
def put_r(id: int, body: RScriptReplace, ctx: CtxDep) -> RScript:
    return ctx.call(svc.replace_script, skind=RK, script_id=id, body=body)  # type: ignore[return-value]


@router.patch("/scripts/r/{id}", summary="Update some attributes of this R Script")
def patch_r(id: int, body: RScriptUpdate, ctx: CtxDep) -> RScript:
    return ctx.call(svc.update_script, skind=RK, script_id=id, body=body)  # type: ignore[return-value]


# --- JavaScript ---

JS = svc.JAVASCRIPT


@router.post("/scripts/javascript", summary="Create a JavaScript Script", status_code=201)
def post_javascript(body: JavaScriptScriptCreate, ctx: CtxDep) -> JavaScriptScript:
    return ctx.call(svc.create_script, skind=JS, body=body)  # type: ignore[return-value]


@router.get("/scripts/javascript/{id}", summary="Get a JavaScript Script")
@inline
def get_javascript(id: int, ctx: CtxDep) -> JavaScriptScript:
    return ctx.call(svc.get_script, skind=JS, script_id=id)  # type: ignore[return-value]


@router.put("/scripts/javascript/{id}", summary="Replace all attributes of this JavaScript Script")
def put_javascript(id: int, body: JavaScriptScriptReplace, ctx: CtxDep) -> JavaScriptScript:
    return ctx.call(svc.replace_script, skind=JS, script_id=id, body=body)  # type: ignore[return-value]


@router.patch(
    "/scripts/javascript/{id}", summary="Update some attributes of this JavaScript Script"
)
def patch_javascript(id: int, body: JavaScriptScriptUpdate, ctx: CtxDep) -> JavaScriptScript:
    return ctx.call(svc.update_script, skind=JS, script_id=id, body=body)  # type: ignore[return-value]


# --- Containers (custom scripts are reachable here too) ---

CT = svc.CONTAINER


@router.post("/scripts/containers", summary="Create a container", status_code=201)
def post_containers(body: ContainerScriptCreate, ctx: CtxDep) -> ContainerScript:
    return ctx.call(svc.create_script, skind=CT, body=body)  # type: ignore[return-value]


@router.get("/scripts/containers/{id}", summary="View a container")
@inline
def get_containers(id: int, ctx: CtxDep) -> ContainerScript:
    return ctx.call(svc.get_script, skind=CT, script_id=id)  # type: ignore[return-value]


@router.put("/scripts/containers/{id}", summary="Edit a container")
def put_containers(id: int, body: ContainerScriptReplace, ctx: CtxDep) -> ContainerScript:
    return ctx.call(svc.replace_script, skind=CT, script_id=id, body=body)  # type: ignore[return-value]


@router.patch("/scripts/containers/{id}", summary="Update a container")
def patch_containers(id: int, body: ContainerScriptUpdate, ctx: CtxDep) -> ContainerScript:
    return ctx.call(svc.update_script, skind=CT, script_id=id, body=body)  # type: ignore[return-value]


# --- Custom scripts (from templates) ---

CU = svc.CUSTOM


@router.post("/scripts/custom", summary="Create a CustomScript", status_code=201)
def post_custom(body: CustomScriptCreate, ctx: CtxDep) -> CustomScript:
    return ctx.call(svc.create_script, skind=CU, body=body)  # type: ignore[return-value]


@router.get("/scripts/custom/{id}", summary="Get a CustomScript")
@inline
def get_custom(id: int, ctx: CtxDep) -> CustomScript:
    return ctx.call(svc.get_script, skind=CU, script_id=id)  # type: ignore[return-value]


@router.put("/scripts/custom/{id}", summary="Replace all attributes of this CustomScript")
def put_custom(id: int, body: CustomScriptUpdate, ctx: CtxDep) -> CustomScript:
    return ctx.call(svc.replace_script, skind=CU, script_id=id, body=body)  # type: ignore[return-value]


@router.patch("/scripts/custom/{id}", summary="Update some attributes of this CustomScript")
def patch_custom(id: int, body: CustomScriptUpdate, ctx: CtxDep) -> CustomScript:
    return ctx.call(svc.update_script, skind=CU, script_id=id, body=body)  # type: ignore[return-value]


# --- SQL ---

SQ = svc.SQL
RunPaging = Annotated[
    PageParams,
    Depends(pagination(runs_svc.RUN_ORDERS, default_order="id", default_limit=20, max_limit=100)),
]


@router.post("/scripts/sql", summary="Create a SQL script", status_code=201)
def post_sql(body: SqlScriptCreate, ctx: CtxDep) -> SqlScript:
    return ctx.call(svc.create_script, skind=SQ, body=body)  # type: ignore[return-value]


@router.get("/scripts/sql/{id}", summary="Get a SQL script")
@inline
def get_sql(id: int, ctx: CtxDep) -> SqlScript:
    return ctx.call(svc.get_script, skind=SQ, script_id=id)  # type: ignore[return-value]


@router.put("/scripts/sql/{id}", summary="Replace all attributes of this SQL script")
def put_sql(id: int, body: SqlScriptReplace, ctx: CtxDep) -> SqlScript:
    return ctx.call(svc.replace_script, skind=SQ, script_id=id, body=body)  # type: ignore[return-value]


@router.patch("/scripts/sql/{id}", summary="Update some attributes of this SQL script")
def patch_sql(id: int, body: SqlScriptUpdate, ctx: CtxDep) -> SqlScript:
    return ctx.call(svc.update_script, skind=SQ, script_id=id, body=body)  # type: ignore[return-value]


def _sql_runs_router() -> APIRouter:
    """The shared runs router, with the two reads that show each run's output files."""
    sub = APIRouter(tags=["scripts"], route_class=CivicaRoute)
    base = f"/{SQ.path}/{{id}}/runs"

    @sub.get(base, summary="List runs for the given sql")
    @inline
    def list_sql_runs(
        id: int, ctx: CtxDep, request: Request, response: Response, page: RunPaging
    ) -> list[SqlRun]:
        result = ctx.call(
            sql_svc.list_sql_runs, job_id=id, page=page, base_url=str(request.base_url)
        )
        return result.respond(response)

    @sub.get(f"{base}/{{run_id}}", summary="Check status of a run")
    @inline
    def get_sql_runs(id: int, run_id: int, ctx: CtxDep, request: Request) -> SqlRun:
        return ctx.call(  # type: ignore[return-value]
            sql_svc.get_sql_run, job_id=id, run_id=run_id, base_url=str(request.base_url)
        )

    replaced = {("GET", base), ("GET", f"{base}/{{run_id}}")}
    shared = runs_router(SQ.runnable)
    for route in shared.routes:
        if isinstance(route, APIRoute) and any(
            (m, route.path) in replaced for m in route.methods or ()
        ):
            continue
        sub.routes.append(route)
    return sub


def _capabilities(skind: svc.ScriptKind) -> list[APIRouter]:
    kind = skind.object_kind
    return [
        _sql_runs_router() if skind is SQ else runs_router(skind.runnable),
        shares_router(kind),
        projects_router(kind),
        archive_router(kind),
    ]


for _skind in svc.SCRIPT_KINDS.values():
    for _sub in _capabilities(_skind):
        router.include_router(_sub)

"""`/scripts`: thin routes over civica.services.scripts, for every script type, with the shared
runs, shares, projects and archive routers mounted under each type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from civica.api.deps import Ctx, CtxDep
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


# --- One set of create/get/replace/update routes per script type ---


@dataclass(frozen=True)
class TypeRoutes:
    """A script type's own routes: its schemas and the public spec's summaries (create, get,
    replace, update), at `/scripts/<type>` and `/scripts/<type>/{id}`."""

    skind: svc.ScriptKind
    out: type[BaseModel]
    create: type[BaseModel]
    replace: type[BaseModel]
    update: type[BaseModel]
    summaries: tuple[str, str, str, str]


SQ = svc.SQL
TYPES = (
    TypeRoutes(svc.PYTHON, PythonScript, PythonScriptCreate, PythonScriptReplace,
               PythonScriptUpdate,
               ("Create a Python Script", "Get a Python Script",
                "Replace all attributes of this Python Script",
                "Update some attributes of this Python Script")),
    TypeRoutes(svc.R, RScript, RScriptCreate, RScriptReplace, RScriptUpdate,
               ("Create an R Script", "Get an R Script",
                "Replace all attributes of this R Script",
                "Update some attributes of this R Script")),
    TypeRoutes(svc.JAVASCRIPT, JavaScriptScript, JavaScriptScriptCreate,
               JavaScriptScriptReplace, JavaScriptScriptUpdate,
               ("Create a JavaScript Script", "Get a JavaScript Script",
                "Replace all attributes of this JavaScript Script",
                "Update some attributes of this JavaScript Script")),
    # Custom scripts are reachable as containers too.
    TypeRoutes(svc.CONTAINER, ContainerScript, ContainerScriptCreate, ContainerScriptReplace,
               ContainerScriptUpdate,
               ("Create a container", "View a container", "Edit a container",
                "Update a container")),
    # Scripts made from templates: a replace takes the same fields as an update.
    TypeRoutes(svc.CUSTOM, CustomScript, CustomScriptCreate, CustomScriptUpdate,
               CustomScriptUpdate,
               ("Create a CustomScript", "Get a CustomScript",
                "Replace all attributes of this CustomScript",
                "Update some attributes of this CustomScript")),
    TypeRoutes(SQ, SqlScript, SqlScriptCreate, SqlScriptReplace, SqlScriptUpdate,
               ("Create a SQL script", "Get a SQL script",
                "Replace all attributes of this SQL script",
                "Update some attributes of this SQL script")),
)  # fmt: skip


def _typed(fn: Callable[..., Any], name: str, **annotations: Any) -> Callable[..., Any]:
    """`fn` under its own name, with the type's schemas as annotations (FastAPI reads them)."""
    fn.__name__ = fn.__qualname__ = name
    fn.__annotations__ = {**annotations, "ctx": CtxDep}
    return fn


def type_router(t: TypeRoutes) -> APIRouter:
    sub = APIRouter(tags=["scripts"], route_class=CivicaRoute)
    skind, base, name = t.skind, f"/{t.skind.path}", t.skind.path.rsplit("/", 1)[-1]
    create, get, replace, update = t.summaries

    def post(body: Any, ctx: Ctx) -> Any:
        return ctx.call(svc.create_script, skind=skind, body=body)

    def read(id: int, ctx: Ctx) -> Any:
        return ctx.call(svc.get_script, skind=skind, script_id=id)

    def put(id: int, body: Any, ctx: Ctx) -> Any:
        return ctx.call(svc.replace_script, skind=skind, script_id=id, body=body)

    def patch(id: int, body: Any, ctx: Ctx) -> Any:
        return ctx.call(svc.update_script, skind=skind, script_id=id, body=body)

    out = {"return": t.out}
    sub.post(base, summary=create, status_code=201)(
        _typed(post, f"post_{name}", body=t.create, **out)
    )
    sub.get(f"{base}/{{id}}", summary=get)(inline(_typed(read, f"get_{name}", id=int, **out)))
    sub.put(f"{base}/{{id}}", summary=replace)(
        _typed(put, f"put_{name}", id=int, body=t.replace, **out)
    )
    sub.patch(f"{base}/{{id}}", summary=update)(
        _typed(patch, f"patch_{name}", id=int, body=t.update, **out)
    )
    return sub


for _type in TYPES:
    router.include_router(type_router(_type))


# --- SQL runs show their output files ---

RunPaging = Annotated[
    PageParams,
    Depends(pagination(runs_svc.RUN_ORDERS, default_order="id", default_limit=20, max_limit=100)),
]


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

"""`/{kind}/{id}/runs...`: runs, their logs and their outputs, declared once and mounted under
`/jobs` and each script type."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.wire import PageParams, pagination
from civica.schemas.jobs import (
    RunCancelled,
    RunLog,
    RunLogsIn,
    RunOutput,
    RunOutputCreate,
    RunUpdate,
)
from civica.services import runs as svc
from civica.services.runs import RunnableKind

RunPaging = Annotated[
    PageParams,
    Depends(pagination(svc.RUN_ORDERS, default_order="id", default_limit=20, max_limit=100)),
]
OutputPaging = Annotated[
    PageParams,
    Depends(
        pagination(svc.OUTPUT_ORDERS, default_order="created_at", default_limit=50, max_limit=1000)
    ),
]


def runs_router(rkind: RunnableKind) -> APIRouter:
    router = APIRouter(tags=[rkind.path.split("/")[0]], route_class=CivicaRoute)
    base = f"/{rkind.path}/{{id}}/runs"
    one = f"{base}/{{run_id}}"
    schema: Any = rkind.run_schema

    @router.post(
        base,
        summary=rkind.summary("post", "Start a run"),
        status_code=rkind.post_status,
        response_model=schema,
    )
    def post_runs(id: int, ctx: CtxDep) -> Any:
        return ctx.call(svc.create_run, rkind=rkind, job_id=id)

    @router.get(
        base,
        summary=rkind.summary("list", f"List runs for the given {rkind.noun}"),
        response_model=list[schema],
    )
    @inline
    def list_runs(id: int, ctx: CtxDep, response: Response, page: RunPaging) -> Any:
        return ctx.call(svc.list_runs, rkind=rkind, job_id=id, page=page).respond(response)

    @router.get(one, summary=rkind.summary("get", "Check status of a run"), response_model=schema)
    @inline
    def get_runs(id: int, run_id: int, ctx: CtxDep) -> Any:
        return ctx.call(svc.get_run, rkind=rkind, job_id=id, run_id=run_id)

    @router.delete(one, summary="Cancel a run", status_code=202)
    def delete_runs(id: int, run_id: int, ctx: CtxDep) -> RunCancelled:
        return ctx.call(svc.cancel_run, rkind=rkind, job_id=id, run_id=run_id)

    @router.get(f"{one}/logs", summary="Get the logs for a run")
    @inline
    def list_runs_logs(
        id: int,
        run_id: int,
        ctx: CtxDep,
        response: Response,
        last_id: int | None = Query(
            None,
            description="The ID of the last log message received. Log entries with this ID value "
            "or lower will be omitted. Logs are sorted by ID.",
        ),
        limit: int | None = Query(
            None, description="The maximum number of log messages to return. Default of 10000."
        ),
    ) -> list[RunLog]:
        page = ctx.call(
            svc.list_logs, rkind=rkind, job_id=id, run_id=run_id, last_id=last_id, limit=limit
        )
        response.headers["civis-max-id"] = str(page.max_id)
        response.headers["civis-cache-control"] = svc.cache_control(page)
        return page.logs

    @router.get(f"{one}/outputs", summary="List the outputs for a run")
    @inline
    def list_runs_outputs(
        id: int, run_id: int, ctx: CtxDep, response: Response, page: OutputPaging
    ) -> list[RunOutput]:
        result = ctx.call(svc.list_outputs, rkind=rkind, job_id=id, run_id=run_id, page=page)
        return result.respond(response)

    if rkind.outputs_writable:

        @router.post(f"{one}/outputs", summary="Add an output for a run", status_code=202)
        def post_runs_outputs(
            id: int, run_id: int, body: RunOutputCreate, ctx: CtxDep
        ) -> RunOutput:
            return ctx.call(svc.add_output, rkind=rkind, job_id=id, run_id=run_id, body=body)

    if rkind.worker_api:

        @router.patch(one, summary="Update a run", status_code=204, response_class=Response)
        def patch_runs(id: int, run_id: int, body: RunUpdate, ctx: CtxDep) -> None:
            ctx.call(svc.update_run, rkind=rkind, job_id=id, run_id=run_id, body=body)

        @router.post(
            f"{one}/heartbeats",
            summary="Indicate that the given run is being handled",
            status_code=204,
            response_class=Response,
        )
        def post_runs_heartbeats(id: int, run_id: int, ctx: CtxDep) -> None:
            ctx.call(svc.beat_run, rkind=rkind, job_id=id, run_id=run_id)

        @router.post(
            f"{one}/logs", summary="Add log messages", status_code=204, response_class=Response
        )
        def post_runs_logs(id: int, run_id: int, body: RunLogsIn, ctx: CtxDep) -> None:
            ctx.call(svc.add_logs, rkind=rkind, job_id=id, run_id=run_id, body=body)

    return router

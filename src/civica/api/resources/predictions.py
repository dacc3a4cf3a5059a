"""`/predictions`: thin routes over civica.services.predictions (details, schedules, runs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.wire import PageParams, pagination
from civica.schemas.predictions import (
    Prediction,
    PredictionRun,
    PredictionSchedule,
    PredictionScheduleIn,
    PredictionSummary,
    PredictionUpdate,
)
from civica.services import predictions as svc

router = APIRouter(tags=["predictions"], route_class=CivicaRoute)
Paging = Annotated[PageParams, Depends(pagination(("id",), default_order="id", max_limit=1000))]
RunPaging = Annotated[
    PageParams, Depends(pagination(svc.RUN_ORDERS, default_order="id", max_limit=100))
]


@router.get("/predictions", summary="List predictions")
@inline
def list_predictions(
    ctx: CtxDep,
    response: Response,
    page: Paging,
    model_id: int | None = Query(
        None, description="If specified, only return predictions associated with this model ID."
    ),
) -> list[PredictionSummary]:
    return ctx.call(svc.list_predictions, page=page, model_id=model_id).respond(response)


@router.get("/predictions/{id}", summary="Show the specified prediction")
@inline
def get_prediction(id: int, ctx: CtxDep) -> Prediction:
    return ctx.call(svc.get_prediction, prediction_id=id)


@router.patch("/predictions/{id}", summary="Update a prediction")
def patch_prediction(id: int, body: PredictionUpdate, ctx: CtxDep) -> Prediction:
    return ctx.call(svc.update_prediction, prediction_id=id, body=body)


@router.get("/predictions/{id}/schedules", summary="Show the prediction schedule")
@inline
def list_schedules(id: int, ctx: CtxDep) -> PredictionSchedule:
    return ctx.call(svc.get_schedule, prediction_id=id)


@router.put("/predictions/{id}/schedules", summary="Schedule the prediction")
def put_schedules(id: int, body: PredictionScheduleIn, ctx: CtxDep) -> PredictionSchedule:
    return ctx.call(svc.put_schedule, prediction_id=id, body=body)


@router.post("/predictions/{id}/runs", summary="Start a run", status_code=201)
def post_runs(id: int, ctx: CtxDep) -> PredictionRun:
    return ctx.call(svc.create_run, prediction_id=id)


@router.get("/predictions/{id}/runs", summary="List runs for the given prediction")
@inline
def list_runs(id: int, ctx: CtxDep, response: Response, page: RunPaging) -> list[PredictionRun]:
    return ctx.call(svc.list_runs, prediction_id=id, page=page).respond(response)


@router.get("/predictions/{id}/runs/{run_id}", summary="Check status of a run")
@inline
def get_runs(id: int, run_id: int, ctx: CtxDep) -> PredictionRun:
    return ctx.call(svc.get_run, prediction_id=id, run_id=run_id)


@router.delete(
    "/predictions/{id}/runs/{run_id}",
    summary="Cancel a run",
    status_code=202,
    response_class=Response,
)
def delete_runs(id: int, run_id: int, ctx: CtxDep) -> None:
    ctx.call(svc.cancel_run, prediction_id=id, run_id=run_id)

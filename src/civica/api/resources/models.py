"""`/models`: thin routes over civica.services.models (configurations, types, builds,
schedules, predictions), with shares, projects and archive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.subresources.archive import archive_router
from civica.api.subresources.projects import projects_router
from civica.api.subresources.shares import shares_router
from civica.api.wire import PageParams, pagination
from civica.schemas.models import (
    Build,
    Model,
    ModelCreate,
    ModelPredictionBrief,
    ModelPredictionCreate,
    ModelSchedule,
    ModelScheduleIn,
    ModelSummary,
    ModelType,
    ModelUpdate,
)
from civica.services import models as svc

router = APIRouter(tags=["models"], route_class=CivicaRoute)
Paging = Annotated[PageParams, Depends(pagination(svc.ORDERS, max_limit=50, default_limit=50))]
BuildPaging = Annotated[
    PageParams, Depends(pagination(svc.BUILD_ORDERS, default_order="id", max_limit=100))
]


@router.get("/models/types", summary="List all available model types")
@inline
def list_types(ctx: CtxDep) -> list[ModelType]:
    return ctx.call(svc.list_types)


@router.get("/models", summary="List models")
@inline
def list_models(
    ctx: CtxDep,
    response: Response,
    page: Paging,
    model_name: str | None = Query(
        None, description="If specified, return models whose name contains this text."
    ),
    training_table_name: str | None = Query(
        None, description="If specified, return models whose training table name contains this."
    ),
    dependent_variable: str | None = Query(
        None, description="If specified, return models whose dependent variable contains this."
    ),
    author: str | None = Query(
        None, description="If specified, return models from these authors (user IDs, commas)."
    ),
    status: str | None = Query(
        None,
        description="If specified, return models with one of these statuses (commas): "
        "running, failed, succeeded, idle, scheduled.",
    ),
    hidden: bool | None = Query(
        None,
        description="If specified to be true, returns hidden items. Defaults to false, returning "
        "non-hidden items.",
    ),
    archived: str | None = Query(
        None, description="The archival status of the requested object(s)."
    ),
) -> list[ModelSummary]:
    result = ctx.call(
        svc.list_models,
        page=page,
        model_name=model_name,
        training_table_name=training_table_name,
        dependent_variable=dependent_variable,
        author=author,
        status=status,
        hidden=hidden,
        archived=archived,
    )
    return result.respond(response)


@router.post("/models", summary="Create new configuration for a model", status_code=201)
def post_models(body: ModelCreate, ctx: CtxDep) -> Model:
    return ctx.call(svc.create_model, body=body)


@router.get("/models/{id}", summary="Retrieve model configuration")
@inline
def get_model(id: int, ctx: CtxDep) -> Model:
    return ctx.call(svc.get_model, model_id=id)


@router.patch(
    "/models/{id}",
    summary="Update model configuration",
    status_code=204,
    response_class=Response,
)
def patch_model(id: int, body: ModelUpdate, ctx: CtxDep) -> None:
    ctx.call(svc.update_model, model_id=id, body=body)


@router.post("/models/{id}/builds", summary="Start a build", status_code=201)
def post_builds(id: int, ctx: CtxDep) -> Build:
    return ctx.call(svc.create_build, model_id=id)


@router.get("/models/{id}/builds", summary="List builds for the given model")
@inline
def list_builds(id: int, ctx: CtxDep, response: Response, page: BuildPaging) -> list[Build]:
    return ctx.call(svc.list_builds, model_id=id, page=page).respond(response)


@router.get("/models/{id}/builds/{build_id}", summary="Check status of a build")
@inline
def get_builds(id: int, build_id: int, ctx: CtxDep) -> Build:
    return ctx.call(svc.get_build, model_id=id, build_id=build_id)


@router.delete(
    "/models/{id}/builds/{build_id}",
    summary="Cancel a build",
    status_code=202,
    response_class=Response,
)
def delete_builds(id: int, build_id: int, ctx: CtxDep) -> None:
    ctx.call(svc.cancel_build, model_id=id, build_id=build_id)


@router.get("/models/{id}/schedules", summary="Show the model build schedule")
@inline
def list_schedules(id: int, ctx: CtxDep) -> ModelSchedule:
    return ctx.call(svc.get_schedule, model_id=id)


@router.put("/models/{id}/schedules", summary="Schedule the model build")
def put_schedules(id: int, body: ModelScheduleIn, ctx: CtxDep) -> ModelSchedule:
    return ctx.call(svc.put_schedule, model_id=id, body=body)


@router.put(
    "/models/{id}/predictions", summary="Add a table on which to apply the predictive model"
)
def put_predictions(id: int, body: ModelPredictionCreate, ctx: CtxDep) -> ModelPredictionBrief:
    return ctx.call(svc.put_prediction, model_id=id, body=body)


for _sub in (shares_router(svc.MODEL), projects_router(svc.MODEL), archive_router(svc.MODEL)):
    router.include_router(_sub)

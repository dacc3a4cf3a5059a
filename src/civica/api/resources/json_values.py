"""`/json_values`: small JSON documents (run outputs of type JSONValue); thin routes."""

from __future__ import annotations

from fastapi import APIRouter

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.subresources.shares import shares_router
from civica.schemas.json_values import JsonValue, JsonValueCreate, JsonValueUpdate
from civica.services import json_values as svc

router = APIRouter(tags=["json_values"], route_class=CivicaRoute)


@router.post("/json_values", summary="Create a JSON Value", status_code=201)
def post_json_value(body: JsonValueCreate, ctx: CtxDep) -> JsonValue:
    return ctx.call(svc.create_json_value, body=body)


@router.get("/json_values/{id}", summary="Get details about a JSON Value")
@inline
def get_json_value(id: int, ctx: CtxDep) -> JsonValue:
    return ctx.call(svc.get_json_value, json_value_id=id)


@router.patch("/json_values/{id}", summary="Update some attributes of this JSON Value")
def patch_json_value(id: int, body: JsonValueUpdate, ctx: CtxDep) -> JsonValue:
    return ctx.call(svc.update_json_value, json_value_id=id, body=body)


router.include_router(shares_router(svc.JSON_VALUE))

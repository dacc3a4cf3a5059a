"""`/users/me`: who the API key belongs to (the public client reads it)."""

from __future__ import annotations

from fastapi import APIRouter

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.schemas.users import UserMe
from civica.services import users as svc

router = APIRouter(tags=["users"], route_class=CivicaRoute)


@router.get("/users/me", summary="Show info about the logged-in user")
@inline
def get_me(ctx: CtxDep) -> UserMe:
    return ctx.call(svc.me)

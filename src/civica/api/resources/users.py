"""`/users/me`: who the API key belongs to (the public client reads it)."""

from __future__ import annotations

from fastapi import APIRouter

from civica.api.deps import CtxDep
from civica.schemas.users import UserMe
from civica.services import users as svc

router = APIRouter(tags=["users"])


@router.get("/users/me", summary="Show info about the logged-in user")
def get_me(ctx: CtxDep) -> UserMe:
    return ctx.call(svc.me)

"""`/{kind}/{id}/shares`: list, grant to users or groups, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.schemas.common import ShareGroupsIn, Shares, ShareUsersIn
from civica.services import shares
from civica.services.kinds import ObjectKind


def shares_router(kind: ObjectKind) -> APIRouter:
    router = APIRouter(tags=[kind.path], route_class=CivicaRoute)
    base = f"/{kind.path}/{{id}}/shares"

    @router.get(base, summary="List users and groups permissioned on this object")
    @inline
    def list_shares(id: int, ctx: CtxDep) -> list[Shares]:
        return [ctx.call(shares.list_shares, kind=kind, object_id=id)]

    @router.put(f"{base}/users", summary="Set the permissions users have on this object")
    def put_shares_users(id: int, body: ShareUsersIn, ctx: CtxDep) -> Shares:
        return ctx.call(
            shares.put_shares,
            kind=kind,
            object_id=id,
            principal_type="user",
            principal_ids=body.user_ids,
            permission_level=body.permission_level,
        )

    @router.delete(
        f"{base}/users/{{user_id}}",
        summary="Revoke the permissions a user has on this object",
        status_code=204,
        response_class=Response,
    )
    def delete_shares_users(id: int, user_id: int, ctx: CtxDep) -> None:
        ctx.call(
            shares.delete_share,
            kind=kind,
            object_id=id,
            principal_type="user",
            principal_id=user_id,
        )

    @router.put(f"{base}/groups", summary="Set the permissions groups has on this object")
    def put_shares_groups(id: int, body: ShareGroupsIn, ctx: CtxDep) -> Shares:
        return ctx.call(
            shares.put_shares,
            kind=kind,
            object_id=id,
            principal_type="group",
            principal_ids=body.group_ids,
            permission_level=body.permission_level,
        )

    @router.delete(
        f"{base}/groups/{{group_id}}",
        summary="Revoke the permissions a group has on this object",
        status_code=204,
        response_class=Response,
    )
    def delete_shares_groups(id: int, group_id: int, ctx: CtxDep) -> None:
        ctx.call(
            shares.delete_share,
            kind=kind,
            object_id=id,
            principal_type="group",
            principal_id=group_id,
        )

    return router

"""`/remote_hosts`: the databases civica knows, by URL (passwords masked); admins add them."""

from __future__ import annotations

from fastapi import APIRouter, Query

from civica.api.deps import CtxDep
from civica.schemas.databases import (
    REMOTE_HOST_TYPE_DOC,
    RemoteHost,
    RemoteHostCreate,
    RemoteHostSummary,
)
from civica.services import databases as svc

router = APIRouter(tags=["remote_hosts"])


@router.get("/remote_hosts", summary="List Remote Hosts")
def list_remote_hosts(
    ctx: CtxDep, type: str | None = Query(None, description=REMOTE_HOST_TYPE_DOC)
) -> list[RemoteHostSummary]:
    return ctx.call(svc.list_remote_hosts, type=type)


@router.post("/remote_hosts", summary="Create a Remote Host")
def post_remote_host(body: RemoteHostCreate, ctx: CtxDep) -> RemoteHost:
    return ctx.call(svc.create_remote_host, body=body)


@router.get("/remote_hosts/{id}", summary="Get a Remote Host")
def get_remote_host(id: int, ctx: CtxDep) -> RemoteHost:
    return ctx.call(svc.get_remote_host, remote_host_id=id)

"""`/databases`: thin routes over civica.services.databases."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.schemas.databases import (
    Database,
    DatabaseSchema,
    WhitelistIp,
    WhitelistIpCreate,
    WhitelistIpSummary,
)
from civica.schemas.tables import Table
from civica.services import databases as svc
from civica.services import tables as tables_svc

router = APIRouter(tags=["databases"], route_class=CivicaRoute)


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/databases", summary="List databases")
@inline
def list_databases(ctx: CtxDep) -> list[Database]:
    return ctx.call(svc.list_databases)


@router.get("/databases/{id}", summary="Show database information")
@inline
def get_database(id: int, ctx: CtxDep) -> Database:
    return ctx.call(svc.get_database, database_id=id)


@router.get("/databases/{id}/schemas", summary="List schemas in this database")
def list_schemas(
    id: int,
    ctx: CtxDep,
    request: Request,
    name: str | None = Query(
        None,
        description="If specified, will be used to filter the schemas returned. Substring "
        'matching is supported (e.g., "name=schema" will return both "schema1" and "schema2").',
    ),
    credential_id: int | None = Query(
        None,
        description="If provided, the database is reached with this credential's login instead "
        "of your own credential for it.",
    ),
) -> list[DatabaseSchema]:
    return ctx.call(
        svc.list_schemas,
        database_id=id,
        client_ip=_client_ip(request),
        name=name,
        credential_id=credential_id,
    )


@router.get(
    "/databases/{id}/schemas/{schema_name}/tables/{table_name}", summary="Show basic table info"
)
def get_schemas_tables(
    id: int,
    schema_name: str,
    table_name: str,
    ctx: CtxDep,
    request: Request,
    credential_id: int | None = Query(
        None,
        description="If provided, the database is reached with this credential's login instead "
        "of your own credential for it.",
    ),
) -> Table:
    return ctx.call(
        tables_svc.get_database_table,
        database_id=id,
        schema_name=schema_name,
        table_name=table_name,
        client_ip=_client_ip(request),
        credential_id=credential_id,
    )


@router.get(
    "/databases/{id}/whitelist-ips", summary="List whitelisted IPs for the specified database"
)
def list_whitelist_ips(id: int, ctx: CtxDep) -> list[WhitelistIpSummary]:
    return ctx.call(svc.list_whitelist_ips, database_id=id)


@router.post("/databases/{id}/whitelist-ips", summary="Whitelist an IP address")
def post_whitelist_ips(id: int, body: WhitelistIpCreate, ctx: CtxDep) -> WhitelistIp:
    return ctx.call(svc.create_whitelist_ip, database_id=id, body=body)


@router.get(
    "/databases/{id}/whitelist-ips/{whitelisted_ip_id}",
    summary="View details about a whitelisted IP",
)
def get_whitelist_ips(id: int, whitelisted_ip_id: int, ctx: CtxDep) -> WhitelistIp:
    return ctx.call(svc.get_whitelist_ip, database_id=id, whitelisted_ip_id=whitelisted_ip_id)


@router.delete(
    "/databases/{id}/whitelist-ips/{whitelisted_ip_id}",
    summary="Remove a whitelisted IP address",
    status_code=204,
    response_class=Response,
)
def delete_whitelist_ips(id: int, whitelisted_ip_id: int, ctx: CtxDep) -> None:
    ctx.call(svc.delete_whitelist_ip, database_id=id, whitelisted_ip_id=whitelisted_ip_id)

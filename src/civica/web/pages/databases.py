"""Databases: the ones you may use, one database's schemas and tables, one table's columns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from civica.services import databases as svc
from civica.services import tables
from civica.web.core import PREFIX, Web, page, page_router, signed_in

router = page_router()
NAV = ("Databases", f"{PREFIX}/databases")
WebDep = Annotated[Web, Depends(signed_in)]


@router.get("/databases")
def list_databases(web: WebDep) -> Response:
    return web.render("databases/list.html", databases=web.call(svc.list_databases))


@router.get("/databases/{database_id}")
def show_database(database_id: int, web: WebDep, schema: str | None = None) -> Response:
    database = web.call(svc.get_database, database_id=database_id)
    schemas = web.call(svc.list_schemas, database_id=database_id, client_ip=web.client_ip)
    found = web.call(
        tables.list_tables,
        page=page(limit=500, order="schema", direction="asc"),
        client_ip=web.client_ip,
        database_id=database_id,
        schema=schema,
    )
    return web.render(
        "databases/detail.html",
        database=database,
        schemas=schemas,
        schema=schema,
        tables=found.items,
        total=found.total,
    )


@router.get("/databases/{database_id}/tables/{schema_name}/{table_name}")
def show_table(database_id: int, schema_name: str, table_name: str, web: WebDep) -> Response:
    database = web.call(svc.get_database, database_id=database_id)
    table = web.call(
        tables.get_database_table,
        database_id=database_id,
        schema_name=schema_name,
        table_name=table_name,
        client_ip=web.client_ip,
    )
    return web.render("databases/table.html", database=database, table=table)

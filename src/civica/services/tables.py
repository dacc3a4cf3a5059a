"""Tables of a database, read from the database itself on the caller's behalf (their login, the
database's whitelist). Each table seen gets a stable id in `warehouse_tables`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from civica.db.models import WarehouseTableRow
from civica.platform import Platform
from civica.schemas.tables import Table, TableColumn, TableSummary
from civica.services.actor import Actor
from civica.services.databases import load_database, open_database
from civica.services.errors import BadRequest, NotFound
from civica.services.paging import Page, PageParams
from civica.services.sql import resolve_credential
from civica.warehouse import TableInfo, WarehouseError

ORDERS = ("schema", "name")


def civis_type(sql_type: str) -> str:
    """The generic type of a column, from its database type."""
    t = sql_type.lower()
    if any(w in t for w in ("int", "serial")):
        return "integer"
    if any(w in t for w in ("double", "float", "real", "numeric", "decimal")):
        return "float"
    if t.startswith("bool"):
        return "boolean"
    if "timestamp" in t or "datetime" in t:
        return "timestamp"
    if t.startswith("date"):
        return "date"
    return "string"


def _table_ids(
    session: Session, database_id: int, infos: list[TableInfo]
) -> list[WarehouseTableRow]:
    """The rows of these tables, made for the ones seen for the first time."""
    if not infos:
        return []
    known = {
        (r.schema_name, r.table_name): r
        for r in session.scalars(
            select(WarehouseTableRow).where(
                WarehouseTableRow.remote_host_id == database_id,
                WarehouseTableRow.table_name.in_({i.name for i in infos}),
            )
        )
    }
    out = []
    for info in infos:
        row = known.get((info.schema, info.name))
        if row is None:
            row = WarehouseTableRow(
                remote_host_id=database_id, schema_name=info.schema, table_name=info.name
            )
            session.add(row)
            known[(info.schema, info.name)] = row
        out.append(row)
    session.flush()
    return out


def _summary(database_id: int, info: TableInfo, row: WarehouseTableRow) -> dict[str, object]:
    return {
        "id": row.id,
        "database_id": database_id,
        "schema_": info.schema,
        "name": info.name,
        "description": row.description,
        "is_view": info.is_view,
        "row_count": info.row_count,
        "column_count": len(info.columns) if info.columns else None,
        "table_tags": [],
    }


def get_database_table(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    database_id: int,
    schema_name: str,
    table_name: str,
    client_ip: str | None,
    credential_id: int | None = None,
) -> Table:
    database = load_database(session, database_id)
    with open_database(
        session=session,
        actor=actor,
        platform=platform,
        row=database,
        client_ip=client_ip,
        credential_id=resolve_credential(session, actor, database, credential_id),
    ) as wh:
        try:
            info = wh.describe_table(schema_name, table_name)
        except WarehouseError as exc:
            raise BadRequest(str(exc)) from None
    if info is None:
        raise NotFound(
            f"table {schema_name}.{table_name} not found in database {database.id} "
            f"({database.name}); GET /tables?database_id={database.id} lists its tables"
        )
    row = _table_ids(session, database.id, [info])[0]
    columns = [
        TableColumn(
            name=c.name,
            civis_data_type=civis_type(c.sql_type),
            sql_type=c.sql_type,
            sample_values=[],
            order=c.order,
            useable_as_primary_key=False,
        )
        for c in info.columns
    ]
    return Table.model_validate(
        {
            **_summary(database.id, info, row),
            "column_count": len(columns),
            "columns": columns,
            "primary_keys": [],
            "last_modified_keys": [],
            "multipart_key": [],
        }
    )


def list_tables(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    page: PageParams,
    client_ip: str | None,
    database_id: int | None = None,
    schema: str | None = None,
    name: str | None = None,
    search: str | None = None,
    credential_id: int | None = None,
) -> Page[TableSummary]:
    if database_id is None:
        raise BadRequest("database_id is required: the database whose tables to list")
    database = load_database(session, database_id)
    with open_database(
        session=session,
        actor=actor,
        platform=platform,
        row=database,
        client_ip=client_ip,
        credential_id=resolve_credential(session, actor, database, credential_id),
    ) as wh:
        try:
            infos = wh.list_tables(schema or None, name or None)
        except WarehouseError as exc:
            raise BadRequest(str(exc)) from None
    if search:
        infos = [i for i in infos if search.lower() in f"{i.schema}.{i.name}".lower()]
    key = (lambda i: (i.name, i.schema)) if page.order == "name" else (lambda i: (i.schema, i.name))
    infos.sort(key=key, reverse=page.order_dir == "desc")
    total = len(infos)
    shown = infos[page.offset : page.offset + page.limit]
    rows = _table_ids(session, database.id, shown)
    items = [
        TableSummary.model_validate(_summary(database.id, i, r))
        for i, r in zip(shown, rows, strict=True)
    ]
    return Page(items=items, total=total, params=page)

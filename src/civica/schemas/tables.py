"""Tables and views of a database (`/databases/{id}/schemas/{schema}/tables/{table}`, `/tables`).

civica reads them from the database each time: statistics a platform would collect in the
background (row counts, sample values, distributions) are left empty unless the engine knows
them directly."""

from __future__ import annotations

from pydantic import Field

from civica.schemas.common import Out

T = {
    "id": "The ID of the table.",
    "database_id": "The ID of the database.",
    "schema": "The name of the schema containing the table.",
    "name": "Name of the table.",
    "description": "The description of the table, as specified by the table owner",
    "is_view": "True if this table represents a view. False if it represents a regular table.",
    "row_count": "The number of rows in the table (an estimate on engines that keep one).",
    "column_count": "The number of columns in the table.",
    "size_mb": "The size of the table in megabytes.",
    "owner": "The database username of the table's owner.",
    "distkey": "The column used as the Amazon Redshift distkey.",
    "sortkeys": "The column used as the Amazon Redshift sortkey.",
    "refresh_status": "How up-to-date the table's statistics are: one of 'refreshing', "
    "'current', or 'stale'.",
    "last_refresh": "The time of the last statistics refresh.",
    "refresh_id": "The ID of the most recent statistics refresh.",
}


class TableTag(Out):
    id: int = Field(description="Table Tag ID")
    name: str = Field(description="Table Tag Name")


class TableColumn(Out):
    name: str = Field(description="Name of the column.")
    civis_data_type: str = Field(description="The generic data type of the column (ex. 'string').")
    sql_type: str = Field(description="The database data type of the column (ex. 'VARCHAR').")
    sample_values: list[str] = Field(description="A sample of values from the column.")
    encoding: str | None = Field(default=None, description="The compression encoding.")
    description: str | None = Field(default=None, description="The description of the column.")
    order: int = Field(description="Relative position of the column in the table.")
    null_count: int | None = Field(default=None, description="The number of NULLs.")
    distinct_count: int | None = Field(default=None, description="The number of distinct values.")
    useable_as_primary_key: bool = Field(
        description="Whether the column may be used as an primary key to identify table rows."
    )


class TableSummary(Out):
    """One table in `GET /tables`."""

    id: int = Field(description=T["id"])
    database_id: int = Field(description=T["database_id"])
    schema_: str = Field(alias="schema", description=T["schema"])
    name: str = Field(description=T["name"])
    description: str | None = Field(default=None, description=T["description"])
    is_view: bool = Field(description=T["is_view"])
    row_count: int | None = Field(default=None, description=T["row_count"])
    column_count: int | None = Field(default=None, description=T["column_count"])
    size_mb: float | None = Field(default=None, description=T["size_mb"])
    owner: str | None = Field(default=None, description=T["owner"])
    distkey: str | None = Field(default=None, description=T["distkey"])
    sortkeys: str | None = Field(default=None, description=T["sortkeys"])
    refresh_status: str | None = Field(default=None, description=T["refresh_status"])
    last_refresh: str | None = Field(default=None, description=T["last_refresh"])
    refresh_id: str | None = Field(default=None, description=T["refresh_id"])
    table_tags: list[TableTag] = Field(description="The table tags associated with this table.")


class Table(TableSummary):
    """`GET /databases/{id}/schemas/{schema_name}/tables/{table_name}`."""

    primary_keys: list[str] = Field(description="The primary keys for this table.")
    last_modified_keys: list[str] = Field(
        description="The columns indicating an entry's modification status for this table."
    )
    columns: list[TableColumn]
    multipart_key: list[str]
    view_def: str | None = None
    table_def: str | None = None

"""Queries (`/queries`): one SQL text run on a database, with a preview of its result.

Request field order is the seed's (database, sql, preview_rows are positional)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civica.schemas.common import In, Out, UserBlock
from civica.schemas.jobs import RunBase

Q = {
    "id": "The query ID.",
    "database": "The database ID.",
    "sql": "The SQL to execute.",
    "credential": "The credential ID.",
    "hidden": "The hidden status of the object. Setting this to true hides it from most API "
    "endpoints. The object can still be queried directly by ID",
    "interactive": "Deprecated and not used.",
    "preview_rows": "The number of rows to save from the query's result (maximum: 100).",
    "include_header": "Whether the CSV output should include a header row [default: true].",
    "compression": "The type of compression. One of gzip or zip, or none [default: gzip].",
    "column_delimiter": "The delimiter to use. One of comma or tab, or pipe [default: comma].",
    "unquoted": "If true, will not quote fields.",
    "filename_prefix": "The output filename prefix.",
    "result_rows": "A preview of rows returned by the query.",
    "result_columns": "A preview of columns returned by the query.",
    "script_id": "The ID of the script associated with this query.",
    "exception": "Exception returned from the query, null if the query was a success.",
    "error": "The error message of the last run, if it failed.",
    "finished_at": "The end time of the last run.",
    "started_at": "The start time of the last run.",
    "state": "The state of the last run.",
    "last_run_id": "The ID of the last run.",
    "name": "The name of the query.",
    "report_id": "The ID of the report associated with this query.",
}


class QueryCreate(In):
    database: int = Field(description=Q["database"])
    sql: str = Field(description=Q["sql"])
    credential: int | None = Field(default=None, description=Q["credential"])
    hidden: bool | None = Field(default=None, description=Q["hidden"])
    interactive: bool | None = Field(default=None, description=Q["interactive"])
    preview_rows: int = Field(description=Q["preview_rows"])
    include_header: bool | None = Field(default=None, description=Q["include_header"])
    compression: str | None = Field(default=None, description=Q["compression"])
    column_delimiter: str | None = Field(default=None, description=Q["column_delimiter"])
    unquoted: bool | None = Field(default=None, description=Q["unquoted"])
    filename_prefix: str | None = Field(default=None, description=Q["filename_prefix"])


class QueryBase(Out):
    id: int = Field(description=Q["id"])
    database: int = Field(description=Q["database"])
    sql: str = Field(description=Q["sql"])
    credential: int | None = Field(default=None, description=Q["credential"])
    result_rows: list[list[str | None]] = Field(description=Q["result_rows"])
    result_columns: list[str] = Field(description=Q["result_columns"])
    error: str | None = Field(default=None, description=Q["error"])
    started_at: datetime | None = Field(default=None, description=Q["started_at"])
    finished_at: datetime | None = Field(default=None, description=Q["finished_at"])
    state: str = Field(description=Q["state"])
    script_id: int | None = Field(default=None, description=Q["script_id"])
    exception: str | None = Field(default=None, description=Q["exception"])
    created_at: datetime
    updated_at: datetime
    last_run_id: int | None = Field(default=None, description=Q["last_run_id"])
    archived: str = Field(description="The archival status of the requested object(s).")
    report_id: int | None = Field(default=None, description=Q["report_id"])


class QuerySummary(QueryBase):
    """One query in `GET /queries`."""

    preview_rows: int = Field(description=Q["preview_rows"])


class Query(QueryBase):
    """`GET /queries/{id}` (and the answer to `POST /queries` and `PUT .../scripts/...`)."""

    hidden: bool = Field(description=Q["hidden"])
    name: str | None = Field(default=None, description=Q["name"])
    author: UserBlock
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )
    interactive: bool = Field(description=Q["interactive"])
    preview_rows: int = Field(description=Q["preview_rows"])
    include_header: bool = Field(description=Q["include_header"])
    compression: str = Field(description=Q["compression"])
    column_delimiter: str = Field(description=Q["column_delimiter"])
    unquoted: bool = Field(description=Q["unquoted"])
    filename_prefix: str | None = Field(default=None, description=Q["filename_prefix"])


class QueryRun(RunBase):
    query_id: int = Field(description="The ID of the query.")

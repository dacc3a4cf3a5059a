"""Imports (`/imports`): database-to-database syncs (`Dbsync`) and their runs.

Request field order is the seed's (name, sync_type, is_outbound are positional)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from civica.schemas.common import In, NestedIn, Out, UserBlock
from civica.schemas.jobs import RunBase, RunBrief
from civica.schemas.scripts import NotificationsIn, ScheduleIn

UNUSED = "Accepted for compatibility; not used by civica."


class ImportEndpointIn(NestedIn):
    remote_host_id: int | None = Field(default=None, description="The database ID.")
    credential_id: int | None = Field(default=None, description="The credential ID.")
    additional_credentials: list[int] | None = Field(default=None, description=UNUSED)


class ImportEndpoint(Out):
    remote_host_id: int | None = Field(default=None, description="The database ID.")
    credential_id: int | None = Field(default=None, description="The credential ID.")
    additional_credentials: list[int] = Field(description=UNUSED)
    name: str | None = Field(default=None, description="The database's name.")


class ImportCreate(In):
    name: str = Field(description="The name of the import.", max_length=255)
    source: ImportEndpointIn | None = None
    destination: ImportEndpointIn | None = None
    sync_type: str = Field(description="The type of sync to perform; one of Dbsync.")
    parent_id: int | None = Field(default=None, description="Parent id to trigger this import from")
    is_outbound: bool = Field(description="True for an export from the platform.")
    schedule: ScheduleIn | None = None
    next_run_at: datetime | None = Field(default=None, description="The time of the next run.")
    notifications: NotificationsIn | None = None
    time_zone: str | None = Field(default=None, description="The time zone of this import.")
    hidden: bool | None = Field(default=None, description="The hidden status of the item.")


class SyncPathIn(NestedIn):
    path: str | None = Field(default=None, description="schema.tablename")
    database_table: dict[str, Any] | None = Field(default=None, description=UNUSED)
    file: dict[str, Any] | None = Field(default=None, description=UNUSED)
    google_worksheet: dict[str, Any] | None = Field(default=None, description=UNUSED)


class AdvancedOptionsIn(NestedIn):
    max_errors: int | None = Field(default=None, description=UNUSED)
    existing_table_rows: str | None = Field(
        default=None,
        description="The behavior if the destination table already exists: fail (default), "
        "truncate, append or drop.",
    )
    first_row_is_header: bool | None = Field(default=None, description=UNUSED)
    diststyle: str | None = Field(default=None, description=UNUSED)
    distkey: str | None = Field(default=None, description=UNUSED)
    sortkey1: str | None = Field(default=None, description=UNUSED)
    sortkey2: str | None = Field(default=None, description=UNUSED)
    column_delimiter: str | None = Field(default=None, description=UNUSED)
    column_overrides: dict[str, Any] | None = Field(default=None, description=UNUSED)
    escaped: bool | None = Field(default=None, description=UNUSED)
    identity_column: str | None = Field(default=None, description=UNUSED)
    last_modified_column: str | None = Field(default=None, description=UNUSED)
    row_chunk_size: int | None = Field(default=None, description=UNUSED)
    wipe_destination_table: bool | None = Field(
        default=None, description="If true, the destination table is made anew (as drop)."
    )
    truncate_long_lines: bool | None = Field(default=None, description=UNUSED)
    invalid_char_replacement: str | None = Field(default=None, description=UNUSED)
    verify_table_row_counts: bool | None = Field(
        default=None,
        description="When true, the run fails if the destination has fewer rows than the source.",
    )
    partition_column_name: str | None = Field(default=None, description=UNUSED)
    partition_schema_name: str | None = Field(default=None, description=UNUSED)
    partition_table_name: str | None = Field(default=None, description=UNUSED)
    partition_table_partition_column_min_name: str | None = Field(default=None, description=UNUSED)
    partition_table_partition_column_max_name: str | None = Field(default=None, description=UNUSED)
    mysql_catalog_matches_schema: bool | None = Field(default=None, description=UNUSED)
    chunking_method: str | None = Field(default=None, description=UNUSED)
    export_action: str | None = Field(default=None, description=UNUSED)
    sql_query: str | None = Field(
        default=None, description="For DB syncs: the query whose rows are synced (else the table)."
    )
    contact_lists: str | None = Field(default=None, description=UNUSED)
    soql_query: str | None = Field(default=None, description=UNUSED)
    include_deleted_records: bool | None = Field(default=None, description=UNUSED)


class SyncCreate(In):
    source: SyncPathIn
    destination: SyncPathIn
    advanced_options: AdvancedOptionsIn | None = None


class SyncPath(Out):
    path: str | None = Field(default=None, description="schema.tablename")


class Sync(Out):
    id: int
    source: SyncPath
    destination: SyncPath
    advanced_options: dict[str, Any] = Field(description="The sync's advanced options.")


class Import(Out):
    id: int = Field(description="The ID for the import.")
    name: str = Field(description="The name of the import.")
    source: ImportEndpoint
    destination: ImportEndpoint
    sync_type: str = Field(description="The type of sync to perform; one of Dbsync.")
    parent_id: int | None = Field(default=None, description="Parent id to trigger this import from")
    is_outbound: bool
    job_type: str = Field(description="The job type of this import.")
    syncs: list[Sync] = Field(description="List of syncs.")
    state: str
    created_at: datetime
    updated_at: datetime
    last_run: RunBrief | None = None
    user: UserBlock
    running_as: UserBlock
    next_run_at: datetime | None = None
    time_zone: str
    hidden: bool
    archived: str = Field(description="The archival status of the requested object(s).")
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )


class ImportSummary(Out):
    id: int = Field(description="The ID for the import.")
    name: str
    sync_type: str
    is_outbound: bool
    job_type: str
    state: str
    created_at: datetime
    updated_at: datetime
    last_run: RunBrief | None = None
    user: UserBlock
    time_zone: str
    archived: str


class ImportRunCreated(Out):
    run_id: int = Field(description="The ID of the new run.")


class ImportRun(RunBase):
    import_id: int = Field(description="The ID of the import.")


# --- file imports: one tabular file (`/imports/files`), batches, CSV imports ---------------------

DELIMITER_DOC = 'The column delimiter of the file: "comma", "tab" or "pipe".'
EXISTING_DOC = (
    'The behaviour if the destination table already exists: "fail" (the default), "truncate", '
    '"append" or "drop".'
)


class FileImportCreate(In):
    schema_: str = Field(alias="schema", description="The schema of the destination table.")
    name: str = Field(description="The name of the destination table.", max_length=255)
    remote_host_id: int = Field(description="The id of the destination database host.")
    credential_id: int | None = Field(
        description="The id of the credentials to be used when performing the database import."
    )
    max_errors: int | None = Field(
        default=None,
        description="The maximum number of rows with errors to remove from the import before "
        "failing (DuckDB destinations; PostgreSQL fails at the first bad row).",
    )
    existing_table_rows: str | None = Field(default=None, description=EXISTING_DOC)
    distkey: str | None = Field(default=None, description=UNUSED)
    sortkey1: str | None = Field(default=None, description=UNUSED)
    sortkey2: str | None = Field(default=None, description=UNUSED)
    column_delimiter: str | None = Field(
        default=None, description=DELIMITER_DOC + " Detected when null or omitted."
    )
    first_row_is_header: bool | None = Field(
        default=None,
        description="Whether the first row is a header row. Detected when null or omitted.",
    )
    multipart: bool | None = Field(
        default=None,
        description="If true, the upload URI takes a multipart/form-data POST with uploadFields; "
        "otherwise a PUT of the file's bytes. Defaults to false.",
    )
    hidden: bool | None = Field(default=None, description="The hidden status of the item.")


class FileImportPost(Out):
    id: int = Field(description="The id of the import.")
    upload_uri: str = Field(
        description="Where to upload the file: PUT its bytes there (or POST multipart/form-data "
        "with uploadFields when multipart was true), then POST to runUri."
    )
    run_uri: str = Field(description="POST here once the upload is complete to import the file.")
    upload_fields: dict[str, str] | None = Field(
        default=None, description="If multipart was true, the fields to send with the upload."
    )


class BatchImportCreate(In):
    file_ids: list[int] = Field(description="The file IDs for the import.", min_length=1)
    schema_: str = Field(alias="schema", description="The destination schema name.")
    table: str = Field(description="The destination table name, without the schema prefix.")
    remote_host_id: int = Field(description="The ID of the destination database host.")
    credential_id: int | None = Field(
        description="The ID of the credentials to be used when performing the database import."
    )
    column_delimiter: str | None = Field(
        default=None, description=DELIMITER_DOC + ' Defaults to "comma".'
    )
    first_row_is_header: bool | None = Field(
        default=None, description="Whether the first row of each file is a header row. "
        "Defaults to false.",
    )  # fmt: skip
    compression: str | None = Field(
        default=None, description='The compression of the files: "gzip" (the default), "zip" '
        'or "none".',
    )  # fmt: skip
    hidden: bool | None = Field(default=None, description="The hidden status of the item.")


class BatchImport(Out):
    id: int = Field(description="The ID for the import.")
    schema_: str = Field(alias="schema", description="The destination schema name.")
    table: str = Field(description="The destination table name, without the schema prefix.")
    remote_host_id: int = Field(description="The ID of the destination database host.")
    state: str = Field(
        description='The state of the run; one of "queued", "running", "succeeded", "failed", '
        'or "cancelled".'
    )
    started_at: datetime | None = Field(default=None, description="The time the last run started.")
    finished_at: datetime | None = Field(
        default=None, description="The time the last run completed."
    )
    error: str | None = Field(default=None, description="The error returned by the run, if any.")
    hidden: bool = Field(description="The hidden status of the item.")


class CsvStoragePathIn(NestedIn):
    storage_host_id: int | None = Field(default=None, description=UNUSED)
    credential_id: int | None = Field(default=None, description=UNUSED)
    file_paths: list[str] | None = Field(default=None, description=UNUSED)


class CsvSourceIn(NestedIn):
    file_ids: list[int] | None = Field(default=None, description="The file ID(s) to import.")
    storage_path: CsvStoragePathIn | None = Field(
        default=None, description="Importing from storage hosts is not supported by civica."
    )


class CsvDestinationIn(NestedIn):
    schema_: str | None = Field(
        default=None, alias="schema", description="The destination schema name."
    )
    table: str | None = Field(default=None, description="The destination table name.")
    remote_host_id: int | None = Field(
        default=None, description="The ID of the destination database host."
    )
    credential_id: int | None = Field(
        default=None, description="The ID of the credentials for the destination database."
    )
    primary_keys: list[str] | None = Field(
        default=None, description="Upserts are not supported by civica; leave empty."
    )
    last_modified_keys: list[str] | None = Field(
        default=None, description="Upserts are not supported by civica; leave empty."
    )


class TableColumnIn(NestedIn):
    name: str | None = Field(default=None, description="The column name.")
    sql_type: str | None = Field(default=None, description="The SQL type of the column.")


class RedshiftOptionsIn(NestedIn):
    diststyle: str | None = Field(default=None, description=UNUSED)
    distkey: str | None = Field(default=None, description=UNUSED)
    sortkeys: list[str | None] | None = Field(default=None, description=UNUSED)


class CsvImportCreate(In):
    name: str | None = Field(default=None, description="The name of the import.", max_length=255)
    source: CsvSourceIn
    destination: CsvDestinationIn
    first_row_is_header: bool = Field(
        description="Whether the first row of the source files is a header row."
    )
    column_delimiter: str | None = Field(
        default=None, description=DELIMITER_DOC + ' Defaults to "comma".'
    )
    escaped: bool | None = Field(
        default=None,
        description="Whether quotes in the files are escaped with a backslash. Defaults to false.",
    )
    compression: str | None = Field(
        default=None, description='The compression of the files: "gzip", "zip" or "none" (the '
        "default).",
    )  # fmt: skip
    existing_table_rows: str | None = Field(default=None, description=EXISTING_DOC)
    max_errors: int | None = Field(
        default=None,
        description="The most rows with errors to skip before failing (DuckDB destinations; "
        "PostgreSQL fails at the first bad row).",
    )
    table_columns: list[TableColumnIn] | None = Field(
        default=None,
        description="The columns in the order they appear in the files, each with name and "
        "sql_type. Detected from the first file when omitted and the table must be made.",
    )
    loosen_types: bool | None = Field(default=None, description=UNUSED)
    execution: str | None = Field(
        default=None, description='Only "immediate" is supported (no delayed upserts).'
    )
    redshift_destination_options: RedshiftOptionsIn | None = Field(default=None, description=UNUSED)
    hidden: bool | None = Field(default=None, description="The hidden status of the item.")


class CsvSource(Out):
    file_ids: list[int] = Field(description="The file ID(s) to import.")


class CsvDestination(Out):
    schema_: str = Field(alias="schema", description="The destination schema name.")
    table: str = Field(description="The destination table name.")
    remote_host_id: int = Field(description="The ID of the destination database host.")
    credential_id: int | None = Field(
        default=None, description="The ID of the credentials for the destination database."
    )


class TableColumnOut(Out):
    name: str = Field(description="The column name.")
    sql_type: str | None = Field(default=None, description="The SQL type of the column.")


class CsvImport(Out):
    id: int = Field(description="The ID for the import.")
    name: str = Field(description="The name of the import.")
    source: CsvSource
    destination: CsvDestination
    first_row_is_header: bool = Field(
        description="Whether the first row of the source files is a header row."
    )
    column_delimiter: str = Field(description=DELIMITER_DOC)
    escaped: bool = Field(description="Whether quotes are escaped with a backslash.")
    compression: str = Field(description='"gzip", "zip" or "none".')
    existing_table_rows: str = Field(description=EXISTING_DOC)
    max_errors: int | None = Field(default=None, description="The most rows with errors to skip.")
    table_columns: list[TableColumnOut] = Field(description="The columns, if given.")
    hidden: bool = Field(description="The hidden status of the item.")
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )


class CsvImportRun(RunBase):
    csv_import_id: int = Field(description="The ID of the CSV Import job.")

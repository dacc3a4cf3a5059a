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

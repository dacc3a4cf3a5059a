"""SQL scripts (`/scripts/sql`): the script, its CSV settings and its runs with their outputs.

Request field order is the seed's argument order (name, sql, remote_host_id are positional).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from civica.schemas.common import In, NestedIn, Out
from civica.schemas.jobs import RunBase
from civica.schemas.scripts import (
    D,
    NotificationsIn,
    ScheduleIn,
    ScriptCommon,
    ScriptParamIn,
)

S = {
    "sql": "The raw SQL query for the script.",
    "remote_host_id": "The remote host ID that this script will connect to.",
    "credential_id": "The credential that this script will use.",
}
CSV = {
    "include_header": "Whether or not to include headers in the output data. Default: true",
    "compression": 'The type of compression to use, if any, one of "none", "zip", or "gzip". '
    "Default: gzip",
    "column_delimiter": 'Which delimiter to use, one of "comma", "tab", or "pipe". Default: comma',
    "unquoted": "Whether or not to quote fields. Default: false",
    "force_multifile": "Whether or not the csv should be split into multiple files. Default: false",
    "filename_prefix": "A user specified filename prefix for the output file to have. Default: "
    "null",
    "max_file_size": "The max file size, in MB, created files will be. Should be used with "
    "force_multifile. Default: 2500",
}


class CsvSettingsIn(NestedIn):
    include_header: bool | None = Field(default=None, description=CSV["include_header"])
    compression: str | None = Field(default=None, description=CSV["compression"])
    column_delimiter: str | None = Field(default=None, description=CSV["column_delimiter"])
    unquoted: bool | None = Field(default=None, description=CSV["unquoted"])
    force_multifile: bool | None = Field(default=None, description=CSV["force_multifile"])
    filename_prefix: str | None = Field(default=None, description=CSV["filename_prefix"])
    max_file_size: int | None = Field(default=None, description=CSV["max_file_size"])


class CsvSettings(Out):
    include_header: bool = Field(description=CSV["include_header"])
    compression: str = Field(description=CSV["compression"])
    column_delimiter: str = Field(description=CSV["column_delimiter"])
    unquoted: bool = Field(description=CSV["unquoted"])
    force_multifile: bool = Field(description=CSV["force_multifile"])
    filename_prefix: str | None = Field(default=None, description=CSV["filename_prefix"])
    max_file_size: int | None = Field(default=None, description=CSV["max_file_size"])


class SqlScriptCreate(In):
    name: str = Field(description=D["name"], max_length=255)
    parent_id: int | None = Field(default=None, description=D["parent_id"])
    user_context: str | None = Field(default=None, description=D["user_context"])
    params: list[ScriptParamIn] | None = Field(default=None, description=D["params"])
    arguments: dict[str, Any] | None = Field(default=None, description=D["arguments"])
    schedule: ScheduleIn | None = None
    notifications: NotificationsIn | None = None
    next_run_at: datetime | None = Field(default=None, description=D["next_run_at"])
    time_zone: str | None = Field(default=None, description=D["time_zone"])
    hidden: bool | None = Field(default=None, description=D["hidden"])
    target_project_id: int | None = Field(default=None, description=D["target_project_id"])
    sql: str = Field(description=S["sql"])
    remote_host_id: int = Field(description=S["remote_host_id"])
    credential_id: int | None = Field(default=None, description=S["credential_id"])
    csv_settings: CsvSettingsIn | None = None
    running_as_id: int | None = Field(default=None, description=D["running_as_id"])


class SqlScriptReplace(In):
    name: str = Field(description=D["name"], max_length=255)
    parent_id: int | None = Field(default=None, description=D["parent_id"])
    user_context: str | None = Field(default=None, description=D["user_context"])
    params: list[ScriptParamIn] | None = Field(default=None, description=D["params"])
    arguments: dict[str, Any] | None = Field(default=None, description=D["arguments"])
    schedule: ScheduleIn | None = None
    notifications: NotificationsIn | None = None
    next_run_at: datetime | None = Field(default=None, description=D["next_run_at"])
    time_zone: str | None = Field(default=None, description=D["time_zone"])
    target_project_id: int | None = Field(default=None, description=D["target_project_id"])
    sql: str = Field(description=S["sql"])
    remote_host_id: int = Field(description=S["remote_host_id"])
    credential_id: int | None = Field(default=None, description=S["credential_id"])
    csv_settings: CsvSettingsIn | None = None
    running_as_id: int | None = Field(default=None, description=D["running_as_id"])


class SqlScriptUpdate(In):
    name: str | None = Field(default=None, description=D["name"], max_length=255)
    parent_id: int | None = Field(default=None, description=D["parent_id"])
    user_context: str | None = Field(default=None, description=D["user_context"])
    params: list[ScriptParamIn] | None = Field(default=None, description=D["params"])
    arguments: dict[str, Any] | None = Field(default=None, description=D["arguments"])
    schedule: ScheduleIn | None = None
    notifications: NotificationsIn | None = None
    next_run_at: datetime | None = Field(default=None, description=D["next_run_at"])
    time_zone: str | None = Field(default=None, description=D["time_zone"])
    target_project_id: int | None = Field(default=None, description=D["target_project_id"])
    sql: str | None = Field(default=None, description=S["sql"])
    remote_host_id: int | None = Field(default=None, description=S["remote_host_id"])
    credential_id: int | None = Field(default=None, description=S["credential_id"])
    csv_settings: CsvSettingsIn | None = None
    running_as_id: int | None = Field(default=None, description=D["running_as_id"])


class SqlScript(ScriptCommon):
    sql: str = Field(description=S["sql"])
    expanded_arguments: dict[str, Any] = Field(
        description="Expanded arguments for use in injecting into different environments."
    )
    remote_host_id: int | None = Field(default=None, description=S["remote_host_id"])
    credential_id: int | None = Field(default=None, description=S["credential_id"])
    code_preview: str = Field(
        description="The code that this script will run with arguments inserted."
    )
    csv_settings: CsvSettings


class SqlRunOutput(Out):
    output_name: str = Field(description="The name of the output file.")
    file_id: int = Field(description="The unique ID of the output file.")
    path: str | None = Field(
        default=None,
        description="The temporary link to download this output file, valid for 36 hours.",
    )


class SqlRun(RunBase):
    sql_id: int = Field(description="The ID of this sql.")
    output: list[SqlRunOutput] = Field(
        default_factory=list, description="A list of the outputs of this script."
    )
    output_cached_on: datetime | None = Field(
        default=None,
        description="The time that the output was originally exported, if a cache "
        "entry was used by the run.",
    )


class LegacyScriptCreate(In):
    """`POST /scripts` (legacy): a SQL script from its name, database, credential and SQL."""

    name: str = Field(description=D["name"], max_length=255)
    remote_host_id: int = Field(description=S["remote_host_id"])
    credential_id: int | None = Field(description=S["credential_id"])
    sql: str = Field(description=S["sql"])
    params: list[ScriptParamIn] | None = Field(default=None, description=D["params"])
    arguments: dict[str, Any] | None = Field(default=None, description=D["arguments"])
    template_script_id: int | None = Field(
        default=None,
        description="Legacy script templates are not supported: publish a template with POST "
        "/templates/scripts and use POST /scripts/custom.",
    )
    notifications: NotificationsIn | None = None
    hidden: bool | None = Field(default=None, description=D["hidden"])

"""Jobs (every runnable object), their runs, run logs and run outputs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, create_model

from civica.schemas.common import In, Out, UserBlock

# Any JSON value: no `type` in OpenAPI (so any value conforms); /endpoints, like the seed, calls
# such values strings (civica.api.spec).
ANY_JSON: dict[str, Any] = {}
RUN_STATE = "The state of the run, one of 'queued' 'running' 'succeeded' 'failed' or 'cancelled'."


class RunBrief(Out):
    """A run as jobs and scripts show it (`last_run`, `runs`)."""

    id: int
    state: str = Field(description=RUN_STATE)
    created_at: datetime = Field(description="The time that the run was queued.")
    started_at: datetime | None = Field(default=None, description="The time that the run started.")
    finished_at: datetime | None = Field(
        default=None, description="The time that the run completed."
    )
    error: str | None = Field(
        default=None, description="The error message for this run, if present."
    )


class JobRun(RunBrief):
    """`/jobs/{id}/runs/{run_id}`."""


class RunBase(Out):
    """A run of one script kind; each kind adds its own `<kind>_id` field."""

    id: int = Field(description="The ID of the run.")
    state: str = Field(description=RUN_STATE)
    is_cancel_requested: bool = Field(description="True if run cancel requested, else false.")
    created_at: datetime = Field(description="The time the run was created.")
    started_at: datetime | None = Field(default=None, description="The time the run started at.")
    finished_at: datetime | None = Field(default=None, description="The time the run completed.")
    error: str | None = Field(default=None, description="The error, if any, returned by the run.")
    max_memory_usage: float | None = Field(
        default=None,
        description="If the run has finished, the maximum amount of memory used during the run, "
        "in MB.",
    )
    max_cpu_usage: float | None = Field(
        default=None,
        description="If the run has finished, the maximum amount of cpu used during the run, in "
        "millicores.",
    )


def run_schema(name: str, field: str, noun: str) -> type[RunBase]:
    """The run schema of one kind, e.g. `PythonRun` with `python_id`."""
    model: type[RunBase] = create_model(
        name,
        __base__=RunBase,
        **{field: (int, Field(description=f"The ID of the {noun}."))},  # type: ignore[call-overload]
    )
    return model


class RunCancelled(Out):
    id: int = Field(description="The ID of the run.")
    state: str = Field(description=RUN_STATE)
    is_cancel_requested: bool = Field(description="True if run cancel requested, else false.")


class RunLog(Out):
    id: int = Field(description="The ID of the log.")
    created_at: datetime = Field(description="The time the log was created.")
    message: str = Field(description="The log message.")
    level: str = Field(
        description="The level of the log. One of unknown,fatal,error,warn,info,debug."
    )


class RunLogEntryIn(In):
    message: str = Field(description="The log message to store.", max_length=1_000_000)
    level: str | None = Field(default=None, description="The log level of this message.")
    created_at: datetime | None = Field(default=None, description="When the message was logged.")


class RunLogsIn(In):
    message: str | None = Field(default=None, description="The log message to store.")
    level: str | None = Field(
        default=None, description="The log level of this message [default: info]"
    )
    messages: list[RunLogEntryIn] | None = Field(
        default=None, description="If specified, a batch of logs to store.", max_length=10_000
    )
    child_job_id: int | None = Field(
        default=None, description="The ID of the child job the message came from."
    )


class RunUpdate(In):
    error: str | None = Field(default=None, description="Error message for this run, if present.")


class RunOutput(Out):
    object_type: str = Field(
        description="The type of the output. Valid values are File, Table, Report, Project, "
        "Credential, or JSONValue"
    )
    object_id: int = Field(description="The ID of the output.")
    name: str = Field(description="The name of the output.")
    link: str = Field(description="The hypermedia link to the output.")
    value: Any = Field(
        default=None, description="The value of a JSONValue output.", json_schema_extra=ANY_JSON
    )


class RunOutputCreate(In):
    object_type: str = Field(
        description="The type of the output. Valid values are File, Table, Report, Project, "
        "Credential, or JSONValue"
    )
    object_id: int = Field(description="The ID of the output.")


class LogsPage(Out):
    """Not on the wire: a page of logs plus what the log headers need."""

    logs: list[RunLog]
    max_id: int
    live: bool


class Job(Out):
    id: int
    name: str
    type: str
    from_template_id: int | None = None
    state: str = Field(
        description="Whether the job is idle, queued, running, succeeded, failed or cancelled."
    )
    created_at: datetime
    updated_at: datetime
    runs: list[RunBrief] = Field(description="Information about the most recent runs of the job.")
    last_run: RunBrief | None = None
    hidden: bool = Field(
        description="The hidden status of the object. Setting this to true hides it from most "
        "API endpoints. The object can still be queried directly by ID"
    )
    archived: str = Field(description="The archival status of the requested object(s).")
    author: UserBlock
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )


class JobSummary(Out):
    id: int
    name: str
    type: str
    from_template_id: int | None = None
    state: str = Field(
        description="Whether the job is idle, queued, running, succeeded, failed or cancelled."
    )
    created_at: datetime
    updated_at: datetime
    last_run: RunBrief | None = None
    archived: str = Field(description="The archival status of the requested object(s).")
    author: UserBlock


class JobTree(Out):
    id: int
    name: str
    type: str
    from_template_id: int | None = None
    state: str
    created_at: datetime
    updated_at: datetime
    runs: list[RunBrief]
    last_run: RunBrief | None = None
    children: list[dict[str, Any]] = Field(
        description="The jobs this job triggers, each with its own children (same shape)."
    )


class TriggerEmail(Out):
    trigger_email: str = Field(
        description="Email address which may be used to trigger this job to run."
    )

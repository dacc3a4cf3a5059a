"""Reports (`/reports`): HTML reports from code or from a job's output file, their API grant and
their snapshot automation.

Field order is the seed's. The spec spells one field `provideAPIKey`; requests may also send
`provide_api_key` or `provideApiKey`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, Field

from civica.schemas.common import In, NestedIn, Out, UserBlock
from civica.schemas.jobs import RunBrief

R = {
    "id": "The ID of this report.",
    "name": "The name of the report.",
    "script_id": "The ID of the job (a script or a query) used to create this report.",
    "code_body": "The code for the report visualization.",
    "app_state": "Any application state blob for this report.",
    "provide_api_key": "Allow the report to provide an API key to front-end code.",
    "template_id": "The ID of the template used for this report.",
    "hidden": "The hidden status of the object. Setting this to true hides it from most API "
    "endpoints. The object can still be queried directly by ID",
    "description": "The user-defined description of the report.",
    "config": "Any configuration metadata for this report.",
    "state": "The status of the report\u2019s last run.",
    "finished_at": "The time that the report\u2019s last run finished.",
    "viz_updated_at": "The time that the report\u2019s visualization was last updated.",
    "job_path": "The link to details of the job that backs this report.",
    "auth_thumbnail_url": "URL for a thumbnail of the report.",
    "archived": "The archival status of the requested object(s).",
    "auth_data_url": "A URL, valid for a limited time, to the output file that backs this "
    "report (reports backed by a job only).",
    "auth_code_url": "A URL, valid for a limited time, to the report's page: open it in a browser "
    "(or a sandboxed frame) to view the report.",
    "valid_output_file": "Whether the job (a script or a query) that backs the report currently "
    "has a valid output file.",
    "provided_api_key": "Whether the report requests an API Key from the report viewer.",
    "api_key": "A Civis API key that can be used by this report.",
    "api_key_id": "The ID of the API key. Can be used for auditing API use by this report.",
    "type": "The type of the report: ReportTypes::HTML.",
}
S = {
    "id": "The ID of this report.",
    "state": "The status of the job\u2019s last run.",
    "finished_at": "The time that the job\u2019s last run finished.",
    "send_email_on_completion": "Whether the job will send emails on completion.",
    "email_template": "Custom email template.",
    "recipient_email_addresses": "Email addresses to send report to, comma separated.",
    "email_subject": "Subject for Email.",
    "height": "The height of the cropped snapshot image in screen pixels. The default value is "
    "900 pixels. Minimum value is 600 pixels.",
    "width": "The width of the cropped snapshot image in screen pixels. The default value is 1440 "
    "pixels. Minimum value is 600 pixels.",
    "parent_id": "The ID of the parent job that will trigger this snapshot.",
}
_PROVIDE_IN = AliasChoices("provideAPIKey", "provideApiKey", "provide_api_key")


class ReportCreate(In):
    script_id: int | None = Field(default=None, description=R["script_id"])
    name: str | None = Field(default=None, description=R["name"], max_length=255)
    code_body: str | None = Field(default=None, description=R["code_body"])
    app_state: dict[str, Any] | None = Field(default=None, description=R["app_state"])
    provide_api_key: bool | None = Field(
        default=None, description=R["provide_api_key"], validation_alias=_PROVIDE_IN
    )
    template_id: int | None = Field(default=None, description=R["template_id"])
    hidden: bool | None = Field(default=None, description=R["hidden"])
    description: str | None = Field(default=None, description=R["description"])


class ReportUpdate(In):
    name: str | None = Field(default=None, description=R["name"], max_length=255)
    script_id: int | None = Field(default=None, description=R["script_id"])
    code_body: str | None = Field(default=None, description=R["code_body"])
    config: str | None = Field(default=None, description=R["config"])
    app_state: dict[str, Any] | None = Field(default=None, description=R["app_state"])
    provide_api_key: bool | None = Field(
        default=None, description=R["provide_api_key"], validation_alias=_PROVIDE_IN
    )
    template_id: int | None = Field(
        default=None,
        description="The ID of the template used for this report. If null is passed, no "
        "template will back this report. Changes to the backing template will reset the report "
        "appState.",
    )
    description: str | None = Field(default=None, description=R["description"])


class ReportScript(Out):
    id: int = Field(description="The ID for the script.")
    name: str = Field(description="The name of the script.")
    sql: str | None = Field(default=None, description="The raw SQL query for the script.")


class ReportProject(Out):
    id: int = Field(description="The ID for the project.")
    name: str = Field(description="The name of the project.")


class ReportSummary(Out):
    """One report in `GET /reports`."""

    id: int = Field(description=R["id"])
    name: str = Field(description=R["name"])
    user: UserBlock
    created_at: datetime
    updated_at: datetime
    projects: list[ReportProject] = Field(description="A list of projects containing the report.")
    state: str | None = Field(default=None, description=R["state"])
    finished_at: datetime | None = Field(default=None, description=R["finished_at"])
    viz_updated_at: datetime | None = Field(default=None, description=R["viz_updated_at"])
    script: ReportScript | None = None
    job_path: str | None = Field(default=None, description=R["job_path"])
    tableau_id: int | None = None
    template_id: int | None = Field(default=None, description=R["template_id"])
    auth_thumbnail_url: str | None = Field(default=None, description=R["auth_thumbnail_url"])
    last_run: RunBrief | None = None
    archived: str = Field(description=R["archived"])
    type: str = Field(description=R["type"])


class Report(ReportSummary):
    """`GET /reports/{id}` (and the answer to post, patch, archive and post_grants)."""

    hidden: bool = Field(description=R["hidden"])
    auth_data_url: str | None = Field(default=None, description=R["auth_data_url"])
    auth_code_url: str | None = Field(default=None, description=R["auth_code_url"])
    config: str | None = Field(default=None, description=R["config"])
    valid_output_file: bool = Field(description=R["valid_output_file"])
    provide_api_key: bool = Field(description=R["provided_api_key"], alias="provideAPIKey")
    api_key: str | None = Field(default=None, description=R["api_key"])
    api_key_id: int | None = Field(default=None, description=R["api_key_id"])
    app_state: dict[str, Any] = Field(description=R["app_state"])
    description: str | None = Field(default=None, description=R["description"])
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )


class SnapshotScheduleIn(NestedIn):
    scheduled: bool | None = Field(default=None, description="If the object is scheduled")
    scheduled_days: list[int] | None = Field(
        default=None, description="Day based on numeric value starting at 0 for Sunday"
    )
    scheduled_hours: list[int] | None = Field(
        default=None, description="Hours of the day it is scheduled on"
    )
    scheduled_minutes: list[int] | None = Field(
        default=None, description="Minutes of the day it is scheduled on"
    )
    scheduled_runs_per_hour: int | None = Field(
        default=None,
        description="Alternative to scheduled minutes, number of times to run per hour",
    )


class SnapshotSchedule(Out):
    scheduled: bool = Field(default=False, description="If the object is scheduled")
    scheduled_days: list[int] = Field(
        default_factory=list, description="Day based on numeric value starting at 0 for Sunday"
    )
    scheduled_hours: list[int] = Field(
        default_factory=list, description="Hours of the day it is scheduled on"
    )
    scheduled_minutes: list[int] = Field(
        default_factory=list, description="Minutes of the day it is scheduled on"
    )
    scheduled_runs_per_hour: int | None = Field(
        default=None,
        description="Alternative to scheduled minutes, number of times to run per hour",
    )


class SnapshotIn(In):
    """The body of post_snapshots and patch_snapshots (state and finished_at are read-only:
    accepted because the seed lists them, and ignored)."""

    state: str | None = Field(default=None, description=S["state"])
    finished_at: datetime | None = Field(default=None, description=S["finished_at"])
    send_email_on_completion: bool | None = Field(
        default=None, description=S["send_email_on_completion"]
    )
    email_template: str | None = Field(default=None, description=S["email_template"])
    recipient_email_addresses: str | None = Field(
        default=None, description=S["recipient_email_addresses"]
    )
    email_subject: str | None = Field(default=None, description=S["email_subject"], max_length=998)
    height: int | None = Field(default=None, description=S["height"])
    width: int | None = Field(default=None, description=S["width"])
    schedule: SnapshotScheduleIn | None = None
    parent_id: int | None = Field(default=None, description=S["parent_id"])


class Snapshot(Out):
    """The report's snapshot automation settings, with its last run's state."""

    id: int = Field(description=S["id"])
    state: str = Field(description=S["state"])
    finished_at: datetime | None = Field(default=None, description=S["finished_at"])
    send_email_on_completion: bool = Field(description=S["send_email_on_completion"])
    email_template: str | None = Field(default=None, description=S["email_template"])
    recipient_email_addresses: str | None = Field(
        default=None, description=S["recipient_email_addresses"]
    )
    email_subject: str | None = Field(default=None, description=S["email_subject"])
    height: int = Field(description=S["height"])
    width: int = Field(description=S["width"])
    schedule: SnapshotSchedule
    parent_id: int | None = Field(default=None, description=S["parent_id"])

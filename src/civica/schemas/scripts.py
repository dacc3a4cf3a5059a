"""Scripts of each type (Python 3, R, JavaScript, container, custom) and their shared blocks.

Request field order is the seed's argument order (the clients make required fields positional).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from civica.schemas.common import In, NestedIn, Out, UserBlock
from civica.schemas.jobs import RunBrief

PARAM_TYPES = (
    "string",
    "multi_line_string",
    "integer",
    "float",
    "bool",
    "file",
    "table",
    "database",
    "credential_aws",
    "credential_redshift",
    "credential_custom",
)


# --- Nested blocks ---


class ScriptParamIn(NestedIn):
    name: str = Field(description="The variable's name as used within your code.")
    label: str | None = Field(
        default=None, description="The label to present to users when asking them for the value."
    )
    description: str | None = Field(
        default=None,
        description="A short sentence or fragment describing this parameter to the end user.",
    )
    type: str | None = Field(
        default=None,
        description="The type of parameter. Valid options: string, multi_line_string, integer, "
        "float, bool, file, table, database, credential_aws, credential_redshift, or "
        "credential_custom",
    )
    required: bool | None = Field(default=None, description="Whether this param is required.")
    value: str | None = Field(
        default=None,
        description="The value you would like to set this param to. Setting this value makes "
        "this parameter a fixed param.",
    )
    default: str | None = Field(
        default=None,
        description="If an argument for this parameter is not defined, it will use this default "
        "value.",
    )
    allowed_values: list[dict[str, Any]] | None = Field(
        default=None, description="The possible values this parameter can take."
    )


class ScriptParam(Out):
    name: str = Field(description="The variable's name as used within your code.")
    label: str | None = Field(
        default=None, description="The label to present to users when asking them for the value."
    )
    description: str | None = Field(
        default=None,
        description="A short sentence or fragment describing this parameter to the end user.",
    )
    type: str = Field(description="The type of parameter.")
    required: bool = Field(description="Whether this param is required.")
    value: str | None = Field(default=None, description="The value of a fixed param.")
    default: str | None = Field(
        default=None, description="The value used when no argument is given."
    )
    allowed_values: list[dict[str, Any]] = Field(
        default_factory=list, description="The possible values this parameter can take."
    )


class ScheduleIn(NestedIn):
    scheduled: bool | None = Field(default=None, description="If the item is scheduled.")
    scheduled_days: list[int] | None = Field(
        default=None,
        description="Days of the week, based on numeric value starting at 0 for Sunday.",
    )
    scheduled_hours: list[int] | None = Field(
        default=None, description="Hours of the day it is scheduled on."
    )
    scheduled_minutes: list[int] | None = Field(
        default=None, description="Minutes of the day it is scheduled on."
    )
    scheduled_runs_per_hour: int | None = Field(
        default=None, description="Deprecated in favor of scheduled minutes."
    )
    scheduled_days_of_month: list[int] | None = Field(
        default=None, description="Days of the month it is scheduled on."
    )


class Schedule(Out):
    scheduled: bool = Field(default=False, description="If the item is scheduled.")
    scheduled_days: list[int] = Field(default_factory=list)
    scheduled_hours: list[int] = Field(default_factory=list)
    scheduled_minutes: list[int] = Field(default_factory=list)
    scheduled_runs_per_hour: int | None = None
    scheduled_days_of_month: list[int] = Field(default_factory=list)


class NotificationsIn(NestedIn):
    urls: list[str] | None = Field(
        default=None, description="URLs to receive a POST request at job completion"
    )
    success_email_subject: str | None = Field(
        default=None, description="Custom subject line for success e-mail."
    )
    success_email_body: str | None = Field(
        default=None, description="Custom body text for success e-mail, written in Markdown."
    )
    success_email_addresses: list[str] | None = Field(
        default=None, description="Addresses to notify by e-mail when the job completes."
    )
    success_email_from_name: str | None = Field(
        default=None, description="Name from which success emails are sent."
    )
    success_email_reply_to: str | None = Field(
        default=None, description="Address for replies to success emails."
    )
    failure_email_addresses: list[str] | None = Field(
        default=None, description="Addresses to notify by e-mail when the job fails."
    )
    stall_warning_minutes: int | None = Field(
        default=None, description="Stall warning emails will be sent after this many minutes."
    )
    success_on: bool | None = Field(default=None, description="If success notifications are on")
    failure_on: bool | None = Field(default=None, description="If failure notifications are on")


class Notifications(Out):
    urls: list[str] = Field(default_factory=list)
    success_email_subject: str | None = None
    success_email_body: str | None = None
    success_email_addresses: list[str] = Field(default_factory=list)
    success_email_from_name: str | None = None
    success_email_reply_to: str | None = None
    failure_email_addresses: list[str] = Field(default_factory=list)
    stall_warning_minutes: int | None = None
    success_on: bool = True
    failure_on: bool = True


class RequiredResourcesIn(NestedIn):
    cpu: int | None = Field(
        default=None,
        description="The number of CPU shares to allocate for the container. Each core has 1024 "
        "shares. Must be at least 2 shares.",
    )
    memory: int | None = Field(
        default=None,
        description="The amount of RAM to allocate for the container (in MiB). Must be at least "
        "4 MiB.",
    )
    disk_space: float | None = Field(
        default=None, description="The amount of disk space, in GB, to allocate for the container."
    )


class RequiredResources(Out):
    cpu: int = Field(description="The number of CPU shares to allocate (1024 a core).")
    memory: int = Field(description="The amount of RAM to allocate, in MiB.")
    disk_space: float | None = Field(default=None, description="Disk space, in GB.")


class ProjectBrief(Out):
    id: int = Field(description="The ID for the project.")
    name: str = Field(description="The name of the project.")


class ScriptLinks(Out):
    details: str = Field(description="The details link to get more information about the script.")
    runs: str = Field(description="The runs link to get the run information list for this script.")


# --- Requests ---

D = {
    "name": "The name of the script.",
    "parent_id": "The ID of the parent job that will trigger this script",
    "user_context": '"runner" or "author", who to execute the script as when run as a template.',
    "params": "A definition of the parameters this script accepts in the arguments field.",
    "arguments": "Parameter-value pairs to use when running this script. Only settable if this "
    "script has defined parameters.",
    "next_run_at": "The time of the next scheduled run.",
    "time_zone": "The time zone of this script.",
    "hidden": "The hidden status of the item.",
    "target_project_id": "Target project to which script outputs will be added.",
    "instance_type": "The EC2 instance type to deploy to (ignored: runs use this machine).",
    "cancel_timeout": "The amount of time (in seconds) to wait before forcibly terminating the "
    "script. When the script is cancelled, it is first sent a TERM signal. If the script is "
    "still running after the timeout, it is sent a KILL signal.",
    "docker_image_tag": "The tag of the docker image to pull from DockerHub.",
    "partition_label": "The partition label used to run this object.",
    "running_as_id": "The ID of the runner of this script.",
    "source": "The body/text of the script.",
    "remote_host_id": "The remote host ID that this script will connect to.",
    "credential_id": "The credential that this script will use.",
}


class PythonScriptUpdate(In):
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
    required_resources: RequiredResourcesIn | None = None
    instance_type: str | None = Field(default=None, description=D["instance_type"])
    cancel_timeout: int | None = Field(default=None, description=D["cancel_timeout"])
    docker_image_tag: str | None = Field(default=None, description=D["docker_image_tag"])
    partition_label: str | None = Field(default=None, description=D["partition_label"])
    running_as_id: int | None = Field(default=None, description=D["running_as_id"])
    source: str | None = Field(default=None, description=D["source"])


class PythonScriptReplace(PythonScriptUpdate):
    name: str = Field(description=D["name"], max_length=255)
    source: str = Field(description=D["source"])


class PythonScriptCreate(PythonScriptReplace):
    hidden: bool | None = Field(default=None, description=D["hidden"])


class RScriptCreate(PythonScriptCreate):
    pass


class RScriptReplace(PythonScriptReplace):
    pass


class RScriptUpdate(PythonScriptUpdate):
    pass


class JavaScriptScriptUpdate(In):
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
    source: str | None = Field(default=None, description=D["source"])
    remote_host_id: int | None = Field(default=None, description=D["remote_host_id"])
    credential_id: int | None = Field(default=None, description=D["credential_id"])
    running_as_id: int | None = Field(default=None, description=D["running_as_id"])


class JavaScriptScriptReplace(JavaScriptScriptUpdate):
    name: str = Field(description=D["name"], max_length=255)
    source: str = Field(description=D["source"])
    remote_host_id: int = Field(description=D["remote_host_id"])
    credential_id: int = Field(description=D["credential_id"])


class JavaScriptScriptCreate(JavaScriptScriptReplace):
    hidden: bool | None = Field(default=None, description=D["hidden"])


C = {
    "name": "The name of the container.",
    "repo_http_uri": "The location of a github repo to clone into the container, e.g. "
    "github.com/my-user/my-repo.git.",
    "repo_ref": "The tag or branch of the github repo to clone into the container.",
    "remote_host_credential_id": "The id of the database credentials to pass into the "
    "environment of the container.",
    "git_credential_id": "The id of the git credential to be used when checking out the "
    "specified git repo.",
    "docker_command": 'The command to run on the container. Will be run via sh as: ["sh", "-c", '
    "dockerCommand].",
    "docker_image_name": "The name of the docker image to pull from DockerHub.",
}


class ContainerScriptUpdate(In):
    name: str | None = Field(default=None, description=C["name"], max_length=255)
    parent_id: int | None = Field(default=None, description=D["parent_id"])
    user_context: str | None = Field(default=None, description=D["user_context"])
    params: list[ScriptParamIn] | None = Field(default=None, description=D["params"])
    arguments: dict[str, Any] | None = Field(default=None, description=D["arguments"])
    schedule: ScheduleIn | None = None
    notifications: NotificationsIn | None = None
    required_resources: RequiredResourcesIn | None = None
    repo_http_uri: str | None = Field(default=None, description=C["repo_http_uri"])
    repo_ref: str | None = Field(default=None, description=C["repo_ref"])
    remote_host_credential_id: int | None = Field(
        default=None, description=C["remote_host_credential_id"]
    )
    git_credential_id: int | None = Field(default=None, description=C["git_credential_id"])
    docker_command: str | None = Field(default=None, description=C["docker_command"])
    docker_image_name: str | None = Field(default=None, description=C["docker_image_name"])
    docker_image_tag: str | None = Field(default=None, description=D["docker_image_tag"])
    instance_type: str | None = Field(default=None, description=D["instance_type"])
    cancel_timeout: int | None = Field(default=None, description=D["cancel_timeout"])
    time_zone: str | None = Field(default=None, description=D["time_zone"])
    partition_label: str | None = Field(default=None, description=D["partition_label"])
    target_project_id: int | None = Field(default=None, description=D["target_project_id"])
    running_as_id: int | None = Field(default=None, description=D["running_as_id"])


class ContainerScriptReplace(ContainerScriptUpdate):
    required_resources: RequiredResourcesIn


class ContainerScriptCreate(ContainerScriptReplace):
    hidden: bool | None = Field(default=None, description=D["hidden"])


class CustomScriptUpdate(In):
    name: str | None = Field(default=None, description=D["name"], max_length=255)
    parent_id: int | None = Field(default=None, description=D["parent_id"])
    arguments: dict[str, Any] | None = Field(default=None, description=D["arguments"])
    remote_host_id: int | None = Field(default=None, description=D["remote_host_id"])
    credential_id: int | None = Field(default=None, description=D["credential_id"])
    schedule: ScheduleIn | None = None
    notifications: NotificationsIn | None = None
    time_zone: str | None = Field(default=None, description=D["time_zone"])
    target_project_id: int | None = Field(default=None, description=D["target_project_id"])
    required_resources: RequiredResourcesIn | None = None
    partition_label: str | None = Field(default=None, description=D["partition_label"])
    running_as_id: int | None = Field(default=None, description=D["running_as_id"])


class CustomScriptCreate(CustomScriptUpdate):
    from_template_id: int = Field(description="The ID of the template script.")
    hidden: bool | None = Field(default=None, description=D["hidden"])


class ScriptUpdate(In):
    """`PATCH /scripts/{id}`: what every script type has."""

    name: str | None = Field(default=None, description=D["name"], max_length=255)
    parent_id: int | None = Field(default=None, description=D["parent_id"])
    params: list[ScriptParamIn] | None = Field(default=None, description=D["params"])
    arguments: dict[str, Any] | None = Field(default=None, description=D["arguments"])
    schedule: ScheduleIn | None = None
    notifications: NotificationsIn | None = None
    running_as_id: int | None = Field(default=None, description=D["running_as_id"])


# --- Responses ---


class ScriptSummary(Out):
    """One script in `GET /scripts`."""

    id: int = Field(description="The ID for the script.")
    name: str = Field(description="The name of the script.")
    type: str = Field(
        description="The type of the script (e.g SQL, Container, Python, R, JavaScript)"
    )
    created_at: datetime = Field(description="The time this script was created.")
    updated_at: datetime = Field(description="The time the script was last updated.")
    author: UserBlock
    state: str = Field(description="The status of the script's last run.")
    finished_at: datetime | None = Field(
        default=None, description="The time that the script's last run finished."
    )
    projects: list[ProjectBrief] = Field(description="A list of projects containing the script.")
    parent_id: int | None = Field(default=None, description=D["parent_id"])
    is_template: bool = Field(description="Whether others scripts use this one as a template.")
    from_template_id: int | None = Field(
        default=None, description="The ID of the template this script uses, if any."
    )
    links: ScriptLinks
    time_zone: str = Field(description="The time zone of this script.")
    last_run: RunBrief | None = None
    archived: str = Field(description="The archival status of the requested object(s).")
    template_script_id: int | None = Field(
        default=None, description="The ID of the template script, if any."
    )


class ScriptCommon(Out):
    id: int = Field(description="The ID for the script.")
    name: str = Field(description="The name of the script.")
    type: str = Field(
        description="The type of the script (e.g SQL, Container, Python, R, JavaScript)"
    )
    created_at: datetime = Field(description="The time this script was created.")
    updated_at: datetime = Field(description="The time the script was last updated.")
    author: UserBlock
    state: str = Field(description="The status of the script's last run.")
    finished_at: datetime | None = Field(
        default=None, description="The time that the script's last run finished."
    )
    category: str = Field(description="The category of the script.")
    projects: list[ProjectBrief] = Field(description="A list of projects containing the script.")
    parent_id: int | None = Field(default=None, description=D["parent_id"])
    user_context: str = Field(description=D["user_context"])
    params: list[ScriptParam] = Field(description=D["params"])
    arguments: dict[str, Any] = Field(description=D["arguments"])
    is_template: bool = Field(description="Whether others scripts use this one as a template.")
    published_as_template_id: int | None = Field(
        default=None, description="The ID of the template that this script is backing."
    )
    from_template_id: int | None = Field(
        default=None, description="The ID of the template this script uses, if any."
    )
    template_dependents_count: int | None = Field(
        default=None, description="How many other scripts use this one as a template."
    )
    template_script_name: str | None = Field(
        default=None, description="The name of the template script."
    )
    links: ScriptLinks
    schedule: Schedule
    notifications: Notifications
    running_as: UserBlock
    next_run_at: datetime | None = Field(default=None, description=D["next_run_at"])
    time_zone: str = Field(description="The time zone of this script.")
    last_run: RunBrief | None = None
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )
    hidden: bool = Field(
        description="The hidden status of the object. Setting this to true hides it from most "
        "API endpoints. The object can still be queried directly by ID"
    )
    target_project_id: int | None = Field(default=None, description=D["target_project_id"])
    archived: str = Field(description="The archival status of the requested object(s).")
    running_as_id: int | None = Field(default=None, description=D["running_as_id"])


class Script(ScriptCommon):
    """`GET /scripts/{id}`: any script."""

    sql: str | None = Field(default=None, description="The raw SQL query for the script.")
    expanded_arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="Expanded arguments for use in injecting into different environments.",
    )
    template_script_id: int | None = Field(
        default=None, description="The ID of the template script, if any."
    )


class PythonScript(ScriptCommon):
    required_resources: RequiredResources
    instance_type: str | None = Field(default=None, description=D["instance_type"])
    cancel_timeout: int = Field(description=D["cancel_timeout"])
    docker_image_tag: str | None = Field(default=None, description=D["docker_image_tag"])
    partition_label: str | None = Field(default=None, description=D["partition_label"])
    source: str = Field(description=D["source"])


class RScript(PythonScript):
    pass


class JavaScriptScript(ScriptCommon):
    source: str = Field(description=D["source"])
    remote_host_id: int | None = Field(default=None, description=D["remote_host_id"])
    credential_id: int | None = Field(default=None, description=D["credential_id"])


class ContainerScript(ScriptCommon):
    required_resources: RequiredResources
    repo_http_uri: str | None = Field(default=None, description=C["repo_http_uri"])
    repo_ref: str | None = Field(default=None, description=C["repo_ref"])
    remote_host_credential_id: int | None = Field(
        default=None, description=C["remote_host_credential_id"]
    )
    git_credential_id: int | None = Field(default=None, description=C["git_credential_id"])
    docker_command: str | None = Field(default=None, description=C["docker_command"])
    docker_image_name: str | None = Field(default=None, description=C["docker_image_name"])
    docker_image_tag: str | None = Field(default=None, description=D["docker_image_tag"])
    instance_type: str | None = Field(default=None, description=D["instance_type"])
    cancel_timeout: int = Field(description=D["cancel_timeout"])
    partition_label: str | None = Field(default=None, description=D["partition_label"])


class CustomScript(ScriptCommon):
    backing_script_type: str = Field(
        description="The type of the script backing this template (e.g Python)"
    )
    template_note: str | None = Field(default=None, description="The template's note.")
    remote_host_id: int | None = Field(default=None, description=D["remote_host_id"])
    credential_id: int | None = Field(default=None, description=D["credential_id"])
    code_preview: str | None = Field(
        default=None, description="The code that this script will run with arguments inserted."
    )
    last_successful_run: RunBrief | None = None
    required_resources: RequiredResources
    partition_label: str | None = Field(default=None, description=D["partition_label"])


class CustomScriptSummary(Out):
    id: int = Field(description="The ID for the script.")
    name: str = Field(description="The name of the script.")
    type: str = Field(description="The type of the script (e.g Custom)")
    backing_script_type: str = Field(
        description="The type of the script backing this template (e.g Python)"
    )
    created_at: datetime
    updated_at: datetime
    author: UserBlock
    state: str
    finished_at: datetime | None = None
    projects: list[ProjectBrief]
    parent_id: int | None = None
    from_template_id: int | None = None
    time_zone: str
    last_run: RunBrief | None = None
    archived: str = Field(description="The archival status of the requested object(s).")


class ScriptType(Out):
    name: str = Field(description="The name of the type.")


class ScriptCancelled(Out):
    id: int = Field(description="The ID of the run.")
    state: str = Field(
        description="The state of the run, one of 'queued', 'running' or 'cancelled'."
    )
    is_cancel_requested: bool = Field(description="True if run cancel requested, else false.")


class ScriptHistoryOutput(Out):
    output_name: str = Field(description="The name of the output file.")
    file_id: int = Field(description="The unique ID of the output file.")
    path: str | None = Field(default=None, description="The link to download this output file.")


class ScriptHistoryRun(Out):
    id: int = Field(description="The ID of this run.")
    sql_id: int = Field(description="The ID of this script.")
    state: str = Field(description="The state of this run.")
    is_cancel_requested: bool = Field(description="True if run cancel requested, else false.")
    finished_at: datetime | None = Field(
        default=None, description="The time that this run finished."
    )
    error: str | None = Field(
        default=None, description="The error message for this run, if present."
    )
    output: list[ScriptHistoryOutput] = Field(description="A list of the outputs of this script.")

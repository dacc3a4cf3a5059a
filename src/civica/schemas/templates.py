"""Script templates: a script published so that custom scripts can run it with their arguments."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civica.schemas.common import In, Out, UserBlock
from civica.schemas.scripts import ScriptParam


class ScriptTemplateCreate(In):
    script_id: int = Field(description="The id of the script that this template uses.")
    name: str = Field(description="The name of the template.", max_length=255)
    note: str | None = Field(
        default=None,
        description="A note describing what this template is used for; custom scripts created "
        "off this template will display this description.",
    )
    ui_report_id: int | None = Field(
        default=None, description="The id of the report that this template uses."
    )
    archived: bool | None = Field(default=None, description="Whether the template is archived.")
    hidden: bool | None = Field(default=None, description="The hidden status of the item.")


class ScriptTemplateReplace(In):
    name: str = Field(description="The name of the template.", max_length=255)
    note: str | None = Field(
        default=None,
        description="A note describing what this template is used for; custom scripts created "
        "off this template will display this description.",
    )
    ui_report_id: int | None = Field(
        default=None, description="The id of the report that this template uses."
    )
    archived: bool | None = Field(
        default=None, description="Whether the template is archived (kept as it is when omitted)."
    )


class ScriptTemplateUpdate(In):
    name: str | None = Field(default=None, description="The name of the template.", max_length=255)
    note: str | None = Field(default=None, description="A note describing the template.")
    ui_report_id: int | None = Field(
        default=None, description="The id of the report that this template uses."
    )
    archived: bool | None = Field(default=None, description="Whether the template is archived.")


class ScriptTemplate(Out):
    id: int
    public: bool = Field(description="If the template is public or not.")
    script_id: int = Field(description="The id of the script that this template uses.")
    script_type: str = Field(description="The type of the template's backing script.")
    user_context: str = Field(description="The user context of the script that this template uses.")
    params: list[ScriptParam] = Field(
        description="The parameters the template's backing script accepts in arguments."
    )
    name: str = Field(description="The name of the template.")
    category: str | None = Field(default=None, description="The category of this template.")
    note: str | None = Field(default=None, description="A note describing the template.")
    created_at: datetime
    updated_at: datetime
    use_count: int = Field(description="The number of uses of this template.")
    ui_report_id: int | None = Field(default=None, description="The report this template uses.")
    tech_reviewed: bool = Field(description="Whether this template has been reviewed.")
    archived: bool = Field(description="Whether the template has been archived.")
    hidden: bool = Field(description="The hidden status of the item.")
    author: UserBlock = Field(description="The template's author.")
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )


class ScriptTemplateSummary(Out):
    id: int
    public: bool
    script_id: int
    user_context: str
    name: str
    category: str | None = None
    created_at: datetime
    updated_at: datetime
    use_count: int
    ui_report_id: int | None = None
    tech_reviewed: bool
    archived: bool

"""Projects: folders of objects shared with people."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civica.schemas.common import In, Out, UserBlock

HIDDEN_DOC = (
    "The hidden status of the object. Setting this to true hides it from most API endpoints. "
    "The object can still be queried directly by ID"
)
ARCHIVED_DOC = "The archival status of the requested object(s)."


class ProjectCreate(In):
    name: str = Field(description="The name of this project.", min_length=1, max_length=255)
    description: str = Field(description="A description of the project", max_length=100_000)
    note: str | None = Field(default=None, description="Notes for the project")
    hidden: bool | None = Field(default=None, description=HIDDEN_DOC)


class ProjectUpdate(In):
    name: str | None = Field(
        default=None, description="The name of this project.", min_length=1, max_length=255
    )
    description: str | None = Field(
        default=None, description="A description of the project", max_length=100_000
    )
    note: str | None = Field(default=None, description="Notes for the project")


class ProjectTable(Out):
    schema_: str = Field(alias="schema")
    name: str
    row_count: int | None = None
    column_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ProjectObject(Out):
    id: int = Field(description="The object ID.")
    created_at: datetime
    updated_at: datetime


class ProjectRunnable(ProjectObject):
    name: str
    type: str | None = None
    finished_at: datetime | None = None
    state: str | None = None


class ProjectStateful(ProjectObject):
    name: str
    state: str | None = None


class ProjectNamed(ProjectObject):
    name: str


class ProjectFile(ProjectObject):
    file_name: str
    file_size: int | None = None


class ProjectAppInstance(ProjectObject):
    name: str
    slug: str


class ProjectAllObject(Out):
    project_id: int
    object_id: int
    object_type: str
    fco_type: str
    sub_type: str
    name: str
    icon: str
    author: str
    archived: str = Field(description=ARCHIVED_DOC)


class ProjectSummary(Out):
    id: int = Field(description="The ID for this project.")
    author: UserBlock
    name: str = Field(description="The name of this project.")
    description: str = Field(description="A description of the project")
    users: list[UserBlock] = Field(description="Users who can see the project")
    auto_share: bool
    created_at: datetime
    updated_at: datetime
    archived: str = Field(description=ARCHIVED_DOC)


class Project(Out):
    id: int = Field(description="The ID for this project.")
    author: UserBlock
    name: str = Field(description="The name of this project.")
    description: str = Field(description="A description of the project")
    users: list[UserBlock] = Field(description="Users who can see the project")
    auto_share: bool
    created_at: datetime
    updated_at: datetime
    tables: list[ProjectTable]
    surveys: list[ProjectObject]
    scripts: list[ProjectRunnable]
    imports: list[ProjectRunnable]
    models: list[ProjectStateful]
    reports: list[ProjectStateful]
    script_templates: list[ProjectNamed]
    files: list[ProjectFile]
    app_instances: list[ProjectAppInstance]
    all_objects: list[ProjectAllObject]
    note: str | None
    hidden: bool = Field(description=HIDDEN_DOC)
    archived: str = Field(description=ARCHIVED_DOC)

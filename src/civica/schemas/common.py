"""Base models and the blocks many resources share (users, shares, archive, projects)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class Out(BaseModel):
    """A response body: camelCase keys on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        from_attributes=True,
    )


class Error(Out):
    """The body of every failure (4xx and 5xx): what went wrong, in a sentence naming the fix."""

    error: str = Field(description="A short machine-readable name, e.g. not_found.")
    error_description: str = Field(description="What went wrong and how to fix it.")
    code: int = Field(description="The HTTP status code.")


class In(BaseModel):
    """A request body: snake_case or camelCase keys, unknown keys refused with a clear error."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        str_max_length=1_000_000,
    )

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        """NUL characters and unpaired surrogates (`"\\ud800"` in JSON) are refused everywhere:
        no store keeps them faithfully, and a surrogate cannot even be written back as JSON."""
        found = _find_unstorable(data, "")
        if found is not None:
            where, char = found
            where = where or "a value"
            if char == "\x00":
                raise ValueError(f"{where} contains a NUL character (\\x00); remove it")
            raise ValueError(
                f"{where} contains an unpaired surrogate (\\u{ord(char):04x}), which is not "
                "valid Unicode text; send valid UTF-8"
            )
        return data

    def given(self) -> dict[str, object]:
        """The fields the caller sent with a non-null value (null means "not given")."""
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if getattr(self, name) is not None
        }


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _find_unstorable(value: Any, path: str) -> tuple[str, str] | None:
    """Where in a request value the first unstorable character is, and which it is."""
    if isinstance(value, str):
        bad = _UNSTORABLE.search(value)
        return (path, bad.group()) if bad else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and (bad := _UNSTORABLE.search(key)):
                return (path or "a key", bad.group())
            found = _find_unstorable(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _find_unstorable(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


class NestedIn(In):
    """A nested request object."""


class UserBlock(Out):
    id: int = Field(description="The ID of this user.")
    name: str = Field(description="This user's name.")
    username: str = Field(description="This user's username.")
    initials: str = Field(description="This user's initials.")
    online: bool = Field(description="Whether this user is online.")


class ShareEntry(Out):
    id: int
    name: str


class ShareList(Out):
    users: list[ShareEntry]
    groups: list[ShareEntry]


class Shares(Out):
    readers: ShareList
    writers: ShareList
    owners: ShareList
    total_user_shares: int = Field(
        description="For owners, the number of total users shared. For writers and readers, the "
        "number of visible users shared."
    )
    total_group_shares: int = Field(
        description="For owners, the number of total groups shared. For writers and readers, the "
        "number of visible groups shared."
    )


# Ids one share request may name (a database statement has a bounded number of parameters).
MAX_SHARE_IDS = 1000
PermissionLevel = Annotated[str, Field(description='Options are: "read", "write", or "manage"')]


class ShareUsersIn(In):
    user_ids: list[int] = Field(
        description="An array of one or more user IDs", min_length=1, max_length=MAX_SHARE_IDS
    )
    permission_level: PermissionLevel
    share_email_body: str | None = Field(
        default=None, description="Custom body text for e-mail sent on a share."
    )
    send_shared_email: bool | None = Field(
        default=None, description="Send email to the recipients of a share."
    )


class ShareGroupsIn(In):
    group_ids: list[int] = Field(
        description="An array of one or more group IDs", min_length=1, max_length=MAX_SHARE_IDS
    )
    permission_level: PermissionLevel
    share_email_body: str | None = Field(
        default=None, description="Custom body text for e-mail sent on a share."
    )
    send_shared_email: bool | None = Field(
        default=None, description="Send email to the recipients of a share."
    )


class ArchiveIn(In):
    status: bool = Field(description="The desired archived status of the object.")


class ProjectRef(Out):
    """A project an object belongs to (`list_projects` on any kind)."""

    id: int = Field(description="The ID for this project.")
    author: UserBlock
    name: str = Field(description="The name of this project.")
    description: str = Field(description="A description of the project")
    users: list[UserBlock] = Field(description="Users who can see the project")
    auto_share: bool
    created_at: datetime
    updated_at: datetime
    archived: str = Field(description="The archival status of the requested object(s).")


def archived_label(archived: bool) -> str:
    return "true" if archived else "false"

"""The calling user (`GET /users/me`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civica.schemas.common import Out


class GroupRef(Out):
    id: int
    name: str


class UserMe(Out):
    id: int = Field(description="The ID of this user.")
    name: str = Field(description="This user's name.")
    email: str | None = Field(description="This user's email address.")
    username: str = Field(description="This user's username.")
    initials: str = Field(description="This user's initials.")
    is_admin: bool = Field(description="Whether this user administers the platform.")
    time_zone: str = Field(description="The user's time zone.")
    groups: list[GroupRef] = Field(description="The groups this user belongs to.")
    feature_flags: dict[str, bool] = Field(
        description="Feature flags turned on for this user (none are defined yet)."
    )
    created_at: datetime

"""The audit trail as admins read it."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civica.schemas.common import Out


class AuditEvent(Out):
    id: int
    at: datetime = Field(description="When the call was answered.")
    user_id: int | None = Field(description="Who called; null when the key was not valid.")
    username: str | None = None
    method: str = Field(description="POST, PUT, PATCH or DELETE.")
    route: str = Field(description="The operation's path template, e.g. /scripts/python3/{id}.")
    path: str = Field(description="The path called.")
    object_type: str | None = Field(
        default=None, description="The kind of object acted on, e.g. scripts/python3."
    )
    object_id: int | None = Field(default=None, description="The object acted on, when known.")
    status: int = Field(description="The HTTP status of the answer.")
    client_ip: str | None = None

"""JSON values: small JSON documents (run outputs of type JSONValue, among others)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from civica.schemas.common import In, Out
from civica.schemas.jobs import ANY_JSON


class JsonValueCreate(In):
    name: str | None = Field(
        default=None, description="The name of the JSON Value.", max_length=255
    )
    value_str: str = Field(
        description="The JSON value to store. Should be a serialized JSON string. Limited to "
        "1000000 bytes."
    )


class JsonValueUpdate(In):
    name: str | None = Field(
        default=None, description="The name of the JSON Value.", max_length=255
    )
    value_str: str | None = Field(
        default=None,
        description="The JSON value to store. Should be a serialized JSON string. Limited to "
        "1000000 bytes.",
    )


class JsonValue(Out):
    id: int = Field(description="The ID of the JSON Value.")
    name: str = Field(description="The name of the JSON Value.")
    value: Any = Field(
        default=None, description="The deserialized JSON value.", json_schema_extra=ANY_JSON
    )

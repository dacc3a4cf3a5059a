"""JSON values: create, read and update small JSON documents; shares come from the kind."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from civica.db.models import JsonValueRow
from civica.schemas.json_values import JsonValue, JsonValueCreate, JsonValueUpdate
from civica.services.actor import Actor
from civica.services.errors import BadRequest
from civica.services.kinds import ObjectKind, register
from civica.services.permissions import Level, load

MAX_BYTES = 1_000_000


def json_value_detail(session: Session, actor: Actor, row: JsonValueRow) -> JsonValue:
    return JsonValue(id=row.id, name=row.name, value=row.value)


JSON_VALUE = register(
    ObjectKind(
        path="json_values",
        object_type="json_value",
        label="JSON Value",
        row=JsonValueRow,
        detail=json_value_detail,
        detail_schema=JsonValue,
        seed_name="JSON Value",
    )
)


def _parse(value_str: str) -> Any:
    if len(value_str.encode()) > MAX_BYTES:
        raise BadRequest(f"value_str is larger than the {MAX_BYTES} bytes allowed")
    try:
        value = json.loads(value_str)
    except ValueError as exc:
        raise BadRequest(
            f"value_str must be a serialized JSON string, e.g. '{{\"a\": 1}}' ({exc})"
        ) from None
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadRequest(
            'value_str holds an escaped unpaired surrogate (e.g. "\\ud800"), which is not '
            "valid Unicode: encode the text as UTF-8 or pair the surrogates"
        ) from None
    return value


def create_json_value(*, session: Session, actor: Actor, body: JsonValueCreate) -> JsonValue:
    row = JsonValueRow(owner_id=actor.user_id, name=body.name or "", value=_parse(body.value_str))
    session.add(row)
    session.flush()
    return json_value_detail(session, actor, row)


def get_json_value(*, session: Session, actor: Actor, json_value_id: int) -> JsonValue:
    return json_value_detail(session, actor, load(session, actor, JSON_VALUE, json_value_id))


def update_json_value(
    *, session: Session, actor: Actor, json_value_id: int, body: JsonValueUpdate
) -> JsonValue:
    row = load(session, actor, JSON_VALUE, json_value_id, Level.WRITE)
    if body.name is not None:
        row.name = body.name
    if body.value_str is not None:
        row.value = _parse(body.value_str)
    session.flush()
    return json_value_detail(session, actor, row)

"""`/json_values`: any JSON value round-trips; bad JSON and unpaired surrogates are refused."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import LiveServer


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None]}, [1, "x"], "text", 3, 2.5, True, None])
def test_any_json_value_round_trips(admin: httpx.Client, value: object) -> None:
    made = admin.post("/json_values", json={"valueStr": json.dumps(value), "name": "v"})
    assert made.status_code == 201, made.text
    assert admin.get(f"/json_values/{made.json()['id']}").json()["value"] == value


def test_bad_values_are_refused_with_the_reason(live: LiveServer, admin: httpx.Client) -> None:
    r = admin.post("/json_values", json={"valueStr": "{not json"})
    assert r.status_code == 400 and "serialized JSON" in r.json()["errorDescription"]
    # An escaped lone surrogate is valid JSON text but not valid Unicode once decoded.
    r = admin.post("/json_values", json={"valueStr": '"\\ud800"'})
    assert r.status_code == 400 and "surrogate" in r.json()["errorDescription"]
    made = admin.post("/json_values", json={"valueStr": "1"}).json()
    r = admin.patch(f"/json_values/{made['id']}", json={"valueStr": '["\\udfff"]'})
    assert r.status_code == 400
    assert admin.get(f"/json_values/{made['id']}").json()["value"] == 1

"""Fuzzing every operation of civica's own OpenAPI document (`/openapi.json`) with schemathesis.

For each operation, a bounded, derandomized (so CI is reproducible) set of requests is sent to a
real server: valid requests with random ids, valid requests naming objects the caller owns (so the
deep paths run, not only the 404s), a few known-good bodies for operations random data never gets
past, and invalid requests. Every response must

- never be a 5xx;
- have a documented status code and content type, and a body matching the documented schema;
- when it is a 4xx, be JSON carrying `errorDescription`.

The caller is a real, non-admin user with an API key. Runs are only queued (the `live` server has
no workers), and file contents are never uploaded (`POST /files` only returns an upload URL), so
nothing unbounded starts. `POST /credentials/authenticate` would log in to whatever URL it is
given, so its URL is always replaced by a loopback or unparsable one.

Budget: `CIVICA_FUZZ_EXAMPLES` examples per operation (default below), about 20 s per metadata
store. Raise it locally to dig deeper: `CIVICA_FUZZ_EXAMPLES=50 pytest tests/fuzz -s`.
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import LiveServer

EXAMPLES = int(os.environ.get("CIVICA_FUZZ_EXAMPLES", "5"))
# Routes a shared router factory mounts under several kinds: python3's copy gets the full budget,
# the other script types' and /jobs' copies of the same code a smaller one.
REPEATED = re.compile(
    r"/(jobs|scripts/(r|javascript|containers|custom|sql))/\{id\}/(runs|shares|projects|archive)\b"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Known bugs outside this harness's files, as (operation regex, check): remove an entry when fixed.
KNOWN_ISSUES: list[tuple[str, str]] = []
SAFE_URLS = (
    "postgresql://127.0.0.1:9/nowhere",
    "jdbc:postgresql://127.0.0.1:9/nowhere",
    "127.0.0.1:9/nowhere",
    "duckdb:///nowhere.duckdb",
    "mysql://127.0.0.1:9/nowhere",
    "not a url",
)
SCRIPT_TYPES = ("python3", "r", "javascript", "containers", "custom", "sql")


def _seed(live: LiveServer, key: str) -> dict[str, int]:
    """One object of every kind, owned by the caller, so requests can name ids that exist."""
    ids: dict[str, int] = {}
    with live.client(key) as c:

        def make(name: str, path: str, body: dict[str, Any], required: bool = True) -> None:
            r = c.post(path, json=body)
            if r.status_code in (200, 201, 202):
                ids[name] = int(r.json()["id"])
            else:  # kinds still being built may not take this body yet: fuzz without their ids
                assert not required, (path, r.text)

        ids["database"] = int(c.get("/databases").json()[0]["id"])
        login = c.get("/credentials", params={"type": "Database", "default": "true"}).json()
        db = {"remoteHostId": ids["database"], "credentialId": login[0]["id"]}
        make("project", "/projects", {"name": "fuzz", "description": "d"})
        make("credential", "/credentials", {"type": "Custom", "username": "u", "password": "p"})
        make("json_value", "/json_values", {"name": "jv", "valueStr": "1"})
        make("file", "/files", {"name": "f.csv"})
        make("multipart", "/files/multipart", {"name": "m.csv", "numParts": 1})
        make("python3", "/scripts/python3", {"name": "py", "source": "print(1)"})
        make("r", "/scripts/r", {"name": "r", "source": "1"})
        make("javascript", "/scripts/javascript", {"name": "js", "source": "1", **db})
        make(
            "containers",
            "/scripts/containers",
            {"name": "c", "dockerImageName": "img", "requiredResources": {}},
        )
        make("template", "/templates/scripts", {"scriptId": ids["python3"], "name": "t"})
        make("custom", "/scripts/custom", {"fromTemplateId": ids["template"]})
        make("sql", "/scripts/sql", {"name": "q", "sql": "select 1", **db}, required=False)
        query = {"database": ids["database"], "sql": "select 1", "previewRows": 10}
        make("query", "/queries", query, required=False)
        if "query" in ids:
            runs = c.get(f"/queries/{ids['query']}/runs")
            if runs.status_code == 200 and runs.json():
                ids["query_run"] = int(runs.json()[0]["id"])
        for kind in SCRIPT_TYPES:
            if kind in ids:
                make(f"{kind}_run", f"/scripts/{kind}/{ids[kind]}/runs", {}, required=False)
    return ids


_KIND_OF_PREFIX = {
    "projects": "project",
    "credentials": "credential",
    "json_values": "json_value",
    "files": "file",
    "templates": "template",
    "databases": "database",
    "remote_hosts": "database",
    "jobs": "python3",
    "scripts": "python3",
    "queries": "query",
}


def _known_ids(path: str, ids: dict[str, int]) -> dict[str, int]:
    """Path parameters naming objects that exist, for the operation at `path`."""
    parts = path.strip("/").split("/")
    kind = _KIND_OF_PREFIX.get(parts[0], "")
    if parts[0] == "scripts" and len(parts) > 1 and parts[1] in SCRIPT_TYPES:
        kind = parts[1]
    if path.startswith("/files/multipart/"):
        kind = "multipart"
    out: dict[str, int] = {}
    for name in re.findall(r"{(\w+)}", path):
        if name == "project_id" or (name == "id" and kind == "project"):
            out[name] = ids["project"]
        elif name == "id" and kind in ids:
            out[name] = ids[kind]
        elif name == "user_id":
            out[name] = ids["other"]
        elif name == "group_id":
            out[name] = ids["group"]
        elif name == "run_id" and f"{kind}_run" in ids:
            out[name] = ids[f"{kind}_run"]
        elif name == "script_id":
            out[name] = ids["sql" if "sql" in ids else "python3"]
    return out


def _good_bodies(method: str, path: str, ids: dict[str, int]) -> list[dict[str, Any]]:
    """Valid bodies for operations random data (almost) never gets past, so their success
    responses are checked too."""
    login = {"type": "Custom", "username": "fuzz", "password": "secret"}
    if path.endswith("/shares/users"):
        return [
            {"userIds": [ids["other"]], "permissionLevel": level} for level in ("read", "write")
        ]
    if path.endswith("/shares/groups"):
        return [{"groupIds": [ids["group"]], "permissionLevel": "manage"}]
    if path.endswith("/runs/{run_id}/outputs") and method == "POST":
        return [{"objectType": "JSONValue", "objectId": ids["json_value"]}]
    if path.endswith("/runs/{run_id}/logs") and method == "POST":
        return [{"message": "fuzz", "level": "info"}]
    return {
        ("POST", "/credentials"): [login],
        ("PUT", "/credentials/{id}"): [login],
        ("POST", "/json_values"): [{"valueStr": '{"a": [1, null]}'}],
        ("POST", "/scripts/custom"): [{"fromTemplateId": ids["template"]}],
        ("POST", "/templates/scripts"): [{"scriptId": ids["python3"], "name": "t2"}],
    }.get((method, path), [])


def _safe_url(case: Any) -> Any:
    if isinstance(case.body, dict) and isinstance(case.body.get("url"), str):
        case.body["url"] = SAFE_URLS[len(case.body["url"]) % len(SAFE_URLS)]
    return case


def _strategy(operation: Any, ids: dict[str, int]) -> st.SearchStrategy[Any]:
    method, path = operation.method.upper(), operation.path
    known = _known_ids(path, ids)
    options = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if known:
        options.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
    for body in _good_bodies(method, path, ids):
        options.append(operation.as_strategy(path_parameters=known or None, body=body))
    strategy = st.one_of(options)
    if path == "/credentials/authenticate":
        strategy = strategy.map(_safe_url)
    return strategy


def _error_body_check(response: Any) -> None:
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), (
            f"{response.status_code} answered with {content_type!r}, not JSON"
        )
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("errorDescription"), str), (
            f"{response.status_code} without errorDescription: {response.text[:300]}"
        )


def _describe(exc: BaseException) -> str:
    """The failure with everything nested in it (hypothesis and schemathesis group them)."""
    text = f"{type(exc).__name__}: {exc}"
    for inner in getattr(exc, "exceptions", ()):
        text += "\n  " + _describe(inner).replace("\n", "\n  ")
    return text


def _budget(path: str) -> int:
    return max(2, EXAMPLES // 3) if REPEATED.match(path) else EXAMPLES


def _fuzz(
    label: str,
    examples: int,
    strategy: st.SearchStrategy[Any],
    call: Callable[[Any], Any],
    statuses: Counter[str],
) -> None:
    known = {check for pattern, check in KNOWN_ISSUES if re.fullmatch(pattern, label)}
    checks = [c for c in CHECKS if c.__name__ not in known]

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        # No shrinking: a failure is reported with the request that found it (as curl).
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = call(case)
        statuses[f"{response.status_code // 100}xx"] += 1
        case.validate_response(response, checks=checks)
        _error_body_check(response)

    run()


@pytest.mark.timeout(600)
# Hypothesis reads `__file__` of every imported module; civis' lazy deprecated modules (imported by
# the compat tests in the same process) warn when touched.
@pytest.mark.filterwarnings("ignore:.*deprecated since civis-python:FutureWarning")
def test_every_operation_answers_as_documented(live: LiveServer) -> None:
    _, key = live.new_user("fuzzer")
    other_id, _ = live.new_user("fuzz-other")
    ids = _seed(live, key)
    ids["other"] = other_id
    ids["group"] = live.new_group("fuzzers", ["fuzzer"])
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 100, "the OpenAPI document lost its operations"
    basic = base64.b64encode(f"{key}:".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    failures: dict[str, str] = {}
    statuses: Counter[str] = Counter()
    started = time.monotonic()
    with requests.Session() as http:

        def call(case: Any) -> Any:
            return case.call(base_url=live.url, session=http, headers=headers, timeout=30)

        for operation in operations:
            label = f"{operation.method.upper()} {operation.path}"
            try:
                strategy = _strategy(operation, ids)
                _fuzz(label, _budget(operation.path), strategy, call, statuses)
            except (Exception, BaseExceptionGroup) as exc:
                failures[label] = _describe(exc)[:4000]
    elapsed = time.monotonic() - started
    print(
        f"\nfuzzed {len(operations)} operations with {sum(statuses.values())} requests "
        f"({dict(sorted(statuses.items()))}) in {elapsed:.1f}s"
    )
    assert not failures, "\n\n".join(f"== {op}\n{text}" for op, text in failures.items())

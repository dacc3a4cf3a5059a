"""Route inventory: what is implemented against the seed's 261 operations, and the spec's shape.

- every route under the seed's 11 resources is a seed operation (or a listed extra the public
  client needs), with the seed's method name and required-argument order as the public `civis`
  client derives them from `/endpoints`;
- resources declared complete have every seed operation;
- the generated spec equals the checked-in golden file (CIVICA_UPDATE_GOLDEN=1 rewrites it).
"""

from __future__ import annotations

import csv
import inspect
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from jsonref import JsonRef

from civica.api import spec
from civica.api.app import create_app
from civica.platform import Platform

DATA = Path(__file__).resolve().parent.parent / "data"
RESOURCES = {
    "credentials", "databases", "files", "imports", "jobs", "models",
    "predictions", "projects", "queries", "reports", "scripts",
}  # fmt: skip
COMPLETE = {
    "credentials",
    "databases",
    "projects",
    "reports",
    "models",
    "predictions",
    "imports",
    "scripts",
}
# Paths under the seed's resources that the seed lacks but the public client's helpers call
# (wire contract §2).
EXTRAS: set[tuple[str, str]] = {
    ("GET", "/databases/{id}"),
    ("GET", "/databases/{id}/schemas/{schema_name}/tables/{table_name}"),
    ("POST", "/files/multipart"),
    ("POST", "/files/multipart/{id}/complete"),
    ("GET", "/jobs/{id}/runs"),
    ("DELETE", "/jobs/{id}/runs/{run_id}"),
    ("GET", "/jobs/{id}/runs/{run_id}/logs"),
    ("GET", "/jobs/{id}/runs/{run_id}/outputs"),
    ("POST", "/files/preprocess/csv"),
    ("POST", "/imports/files/csv"),
    ("POST", "/imports/files/csv/{id}/runs"),
    ("GET", "/imports/files/csv/{id}/runs"),
    ("GET", "/imports/files/csv/{id}/runs/{run_id}"),
    ("DELETE", "/imports/files/csv/{id}/runs/{run_id}"),
    ("GET", "/imports/files/csv/{id}/runs/{run_id}/logs"),
}


def seed_operations() -> list[dict[str, str]]:
    with (DATA / "operations.tsv").open() as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="module")
def swagger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from civica.settings import Settings

    data = tmp_path_factory.mktemp("inventory")
    platform = Platform.open(Settings(data_dir=data))
    try:
        return spec.generate(create_app(platform))
    finally:
        platform.close()


def implemented(swagger: dict[str, Any]) -> set[tuple[str, str]]:
    return {(verb.upper(), path) for path, ops in swagger["paths"].items() for verb in ops}


def test_every_route_is_a_seed_operation_or_a_known_extra(swagger: dict[str, Any]) -> None:
    seed = {(op["verb"], op["path"]) for op in seed_operations()}
    ours = {(verb, path) for verb, path in implemented(swagger) if path.split("/")[1] in RESOURCES}
    unexpected = sorted(ours - seed - EXTRAS)
    assert not unexpected, f"routes the seed does not define: {unexpected}"


def test_inventory_and_complete_resources(swagger: dict[str, Any]) -> None:
    ours = implemented(swagger)
    done: dict[str, int] = defaultdict(int)
    missing: dict[str, list[str]] = defaultdict(list)
    for op in seed_operations():
        if (op["verb"], op["path"]) in ours:
            done[op["resource"]] += 1
        else:
            missing[op["resource"]].append(f"{op['method']} ({op['verb']} {op['path']})")
    total = sum(done.values())
    print(f"\nseed operations implemented: {total} of {len(seed_operations())}")
    for resource in sorted(RESOURCES):
        left = missing.get(resource, [])
        print(f"  {resource:<12} {done[resource]:>3} done, {len(left):>3} to do")
    for resource in sorted(COMPLETE):
        assert not missing.get(resource), (
            f"{resource} is declared complete but lacks {missing[resource]}"
        )


def test_public_client_derives_the_seed_names_and_argument_order(swagger: dict[str, Any]) -> None:
    from civis.resources._resources import parse_api_spec

    classes = parse_api_spec(JsonRef.replace_refs(json.loads(json.dumps(swagger))), "1.0")
    ours = implemented(swagger)
    problems = []
    for op in seed_operations():
        if (op["verb"], op["path"]) not in ours:
            continue
        cls = classes.get(op["resource"])
        method = getattr(cls, op["method"], None) if cls else None
        if method is None:
            problems.append(f"{op['resource']}.{op['method']} is missing")
            continue
        positional = [
            p.name
            for p in inspect.signature(method).parameters.values()
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and p.name != "self"
        ]
        expected = [
            a.strip() for a in op["args"].split(",") if a.strip() and a.strip() not in ("...",)
        ]
        expected = [a for a in expected if not a.startswith("**")]
        if positional[: len(expected)] != expected or (
            "..." not in op["args"] and len(positional) != len(expected)
        ):
            problems.append(f"{op['resource']}.{op['method']}: {positional} != {op['args']}")
        summary = method.__doc__ or ""
        if not summary.startswith(op["summary"]):
            problems.append(f"{op['resource']}.{op['method']}: summary {summary[:60]!r}")
    assert not problems, "\n".join(problems)


def test_spec_matches_golden_file(swagger: dict[str, Any]) -> None:
    golden = DATA / "endpoints.golden.json"
    text = json.dumps(swagger, indent=1, sort_keys=True) + "\n"
    if os.environ.get("CIVICA_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert golden.exists(), "no golden spec yet: run CIVICA_UPDATE_GOLDEN=1 pytest tests/unit"
    assert json.loads(golden.read_text()) == json.loads(text), (
        "the generated /endpoints spec changed; if on purpose, rerun with CIVICA_UPDATE_GOLDEN=1 "
        "and commit tests/data/endpoints.golden.json"
    )

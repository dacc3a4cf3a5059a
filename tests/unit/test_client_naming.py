"""Method names of `civica.client`: the public civis client's rules (and the seed's names)."""

from __future__ import annotations

from typing import Any

import pytest

from civica.client.naming import camel_to_snake, list_alias, method_name, resource_name

# (verb, path, is_array_response) -> name; the names are the seed's (operations.tsv) and those the
# public client's helpers call (official_client_calls.tsv).
NAMES = [
    ("GET", "/projects", True, "list"),
    ("POST", "/projects", False, "post"),
    ("GET", "/projects/{project_id}", False, "get"),
    ("PUT", "/projects/{project_id}", False, "put"),
    ("GET", "/projects/{id}/shares", True, "list_shares"),
    ("PUT", "/projects/{id}/shares/users", False, "put_shares_users"),
    ("DELETE", "/projects/{id}/shares/users/{user_id}", False, "delete_shares_users"),
    ("PUT", "/projects/{id}/archive", False, "put_archive"),
    ("GET", "/databases/{id}/whitelist-ips/{whitelisted_ip_id}", False, "get_whitelist_ips"),
    ("GET", "/databases/{id}/whitelist-ips", True, "list_whitelist_ips"),
    ("GET", "/scripts/python3/{id}/runs/{run_id}/logs", True, "list_python3_runs_logs"),
    ("POST", "/files/multipart/{id}/complete", False, "post_multipart_complete"),
    ("POST", "/files/multipart", False, "post_multipart"),
    ("GET", "/jobs/{id}/runs/{run_id}/outputs", True, "list_runs_outputs"),
    ("GET", "/scripts/containers/{id}/runs/{run_id}", False, "get_containers_runs"),
    ("PATCH", "/scripts/containers/{id}/runs/{run_id}", False, "patch_containers_runs"),
    ("PUT", "/files/{id}/projects/{project_id}", False, "put_projects"),
    ("GET", "/imports/files/{id}/runs/{run_id}", False, "get_files_runs"),
    ("GET", "/imports/batches/{id}", False, "get_batches"),
    ("GET", "/models/types", True, "list_types"),
    ("POST", "/credentials/{id}/temporary", False, "post_temporary"),
    (
        "POST",
        "/scripts/containers/{id}/runs/{run_id}/outputs",
        False,
        "post_containers_runs_outputs",
    ),
    (
        "GET",
        "/databases/{id}/schemas/{schema_name}/tables/{table_name}",
        False,
        "get_schemas_tables",
    ),
    # a GET ending in a static segment that returns an object is `get_*` (civis' preferred name)
    ("GET", "/users/me", False, "get_me"),
    ("GET", "/projects/{id}/shares", False, "get_shares"),
    # a GET ending in a parameter is `get_*` even when it returns an array
    ("GET", "/things/{id}/parts/{part_id}", True, "get_parts"),
    ("GET", "/users", False, "get"),
]


@pytest.mark.parametrize(("verb", "path", "is_array", "expected"), NAMES)
def test_method_name(verb: str, path: str, is_array: bool, expected: str) -> None:
    assert method_name(verb, path, is_array) == expected
    assert method_name(verb.lower(), path.rstrip("/") + "/", is_array) == expected


@pytest.mark.parametrize(("verb", "path", "is_array", "expected"), NAMES)
def test_names_agree_with_the_public_client(
    verb: str, path: str, is_array: bool, expected: str
) -> None:
    resources: Any = pytest.importorskip("civis.resources._resources")
    op = {"responses": {"200": {"schema": {"type": "array" if is_array else "object"}}}}
    verb, path = verb.lower(), path.strip("/")
    name = resources.parse_method_name(verb, path, op)
    if name.startswith("list") and not resources.get_response_is_array(path, op):
        name = resources.parse_method_name(verb, path, op, use_legacy_names=False)
    assert name == expected


def test_list_alias_only_for_object_returning_static_gets() -> None:
    assert list_alias("GET", "/users/me", False) == "list_me"
    assert list_alias("GET", "/projects/{id}/shares", False) == "list_shares"
    assert list_alias("GET", "/projects/{id}/shares", True) is None
    assert list_alias("GET", "/projects/{project_id}", False) is None
    assert list_alias("POST", "/projects", False) is None


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/projects/{id}", "projects"),
        ("/whitelist-ips", "whitelist_ips"),
        ("/Scripts/sql", "scripts"),
        ("/users/me", "users"),
    ],
)
def test_resource_name(path: str, resource: str) -> None:
    assert resource_name(path) == resource


@pytest.mark.parametrize(
    ("camel", "snake"),
    [
        ("createdAt", "created_at"),
        ("HTTPStatus", "http_status"),
        ("userIds", "user_ids"),
        ("page_num", "page_num"),
        ("id", "id"),
        ("s3Path", "s3_path"),
    ],
)
def test_camel_to_snake(camel: str, snake: str) -> None:
    assert camel_to_snake(camel) == snake

"""Python names for spec paths and fields, by the same rules as the public civis client.

A method name is the verb followed by the static path segments after the resource (a bracketed
segment that follows another bracketed one contributes its own name), joined with `_`, `-`→`_`.
A GET whose last segment is static and whose response is an array is called `list`:
`GET /projects` → `list`, `GET /projects/{id}/shares` → `list_shares`,
`GET /projects/{project_id}` → `get`, `GET /scripts/containers/{id}/runs/{run_id}` →
`get_containers_runs`.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"(.)([A-Z][a-z]+)")
_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")


def camel_to_snake(word: str) -> str:
    """`createdAt` → `created_at`, `HTTPStatus` → `http_status`; snake_case stays as it is."""
    return _LOWER_UPPER.sub(r"\1_\2", _WORD.sub(r"\1_\2", word)).lower()


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _segments(path: str) -> list[str]:
    return path.strip("/").split("/")


def resource_name(path: str) -> str:
    """The client attribute for a path: its first segment, lower-cased, `-`→`_`."""
    return _segments(path)[0].lower().replace("-", "_")


def _name(verb: str, path: str) -> str:
    rest = _segments(path)[1:]
    words = [
        seg if not _is_param(seg) else seg.strip("{}")
        for i, seg in enumerate(rest)
        if not _is_param(seg) or (i > 0 and _is_param(rest[i - 1]))
    ]
    return "_".join([verb, *words]).replace("-", "_")


def _ends_static(path: str) -> bool:
    rest = _segments(path)[1:]
    return not rest or not _is_param(rest[-1])


def method_name(verb: str, path: str, is_array_response: bool) -> str:
    """The method name the public civis client gives `verb path` (its preferred name)."""
    verb = verb.lower()
    if verb == "get" and is_array_response and _ends_static(path):
        verb = "list"
    return _name(verb, path)


def list_alias(verb: str, path: str, is_array_response: bool) -> str | None:
    """civis' older `list_*` name for a GET that ends in a static segment but returns an object
    (e.g. `users.list_me` for `users.get_me`); None when there is no such alias."""
    if verb.lower() == "get" and not is_array_response and _ends_static(path):
        return _name("list", path)
    return None

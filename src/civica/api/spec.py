"""Swagger 2.0 for `/endpoints`, generated from the app's routes and pydantic schemas.

Both clients build their methods from this document, so it follows the rules of the public
client's parser (wire contract §1.7): every parameter has `required` and a plain `type`, every
schema property has a `type` (no `"null"`, no type lists), operations have a string `summary`, and
path items hold only verbs.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

import civica

TYPES = {"integer", "number", "string", "boolean", "array", "object"}
VERBS = ("get", "post", "put", "patch", "delete")
KEEP = ("description", "format", "enum", "default", "minimum", "maximum", "pattern")
# Keys that say nothing about a value's type: a schema of only these accepts any JSON value.
ANNOTATIONS = {"title", "description", "default", "examples"}


class SpecError(ValueError):
    """A route or schema that cannot be described to the clients; names the culprit."""


def _ref(ref: str) -> str:
    return "#/definitions/" + ref.rsplit("/", 1)[-1]


def _strip_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`X | None` (anyOf with null) becomes X, keeping the outer description and default."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options:
            real = [o for o in options if o.get("type") != "null"]
            if len(real) != 1:
                raise SpecError(f"a union of several types cannot be described: {options}")
            merged = {k: v for k, v in schema.items() if k != key}
            return {**real[0], **{k: v for k, v in merged.items() if k in KEEP}}
    if schema.get("allOf") and len(schema["allOf"]) == 1:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        return {**schema["allOf"][0], **{k: v for k, v in merged.items() if k in KEEP}}
    return schema


def convert_schema(schema: dict[str, Any], where: str) -> dict[str, Any]:
    schema = _strip_null(schema)
    if "$ref" in schema:
        return {"$ref": _ref(schema["$ref"])}
    kind = schema.get("type")
    if isinstance(kind, list):
        real = [k for k in kind if k != "null"]
        if len(real) != 1:
            raise SpecError(f"{where}: type {kind} cannot be described")
        kind = real[0]
    if kind is None:
        if "properties" in schema or schema == {} or "additionalProperties" in schema:
            kind = "object"
        elif not schema.keys() - ANNOTATIONS:
            kind = "string"  # any JSON value (`Any`): the seed describes such values as strings
        else:
            raise SpecError(f"{where}: no type in {schema}")
    if kind not in TYPES:
        raise SpecError(f"{where}: type {kind!r} is not one the clients accept")
    out: dict[str, Any] = {"type": kind}
    for key in KEEP:
        if key in schema and schema[key] is not None:
            out[key] = schema[key]
    if kind == "array":
        out["items"] = convert_schema(schema.get("items", {"type": "string"}), f"{where}[]")
    if kind == "object":
        props = schema.get("properties")
        if props is not None:
            out["properties"] = {
                name: convert_schema(p, f"{where}.{name}") for name, p in props.items()
            }
            if schema.get("required"):
                out["required"] = list(schema["required"])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            out["additionalProperties"] = convert_schema(extra, f"{where}.*")
    return out


def _parameter(param: dict[str, Any], where: str) -> dict[str, Any]:
    schema = convert_schema(param.get("schema", {"type": "string"}), f"{where}:{param['name']}")
    if "$ref" in schema or schema["type"] == "object":
        raise SpecError(f"{where}: parameter {param['name']} must be a scalar or a list")
    out: dict[str, Any] = {
        "name": param["name"],
        "in": param["in"],
        "required": bool(param.get("required", False)),
        "type": schema["type"],
    }
    description = param.get("description") or schema.get("description")
    if not description and param["in"] == "path":
        noun = param["name"].removesuffix("_id").replace("_", " ")
        description = "The ID of the object." if noun == "id" else f"The ID of the {noun}."
    if description:
        out["description"] = description
    if "items" in schema:
        out["items"] = schema["items"]
        out["collectionFormat"] = "multi"
    if "enum" in schema:
        out["enum"] = schema["enum"]
    return out


def _operation(op: dict[str, Any], where: str) -> dict[str, Any]:
    summary = op.get("summary")
    if not isinstance(summary, str) or not summary:
        raise SpecError(f"{where}: every operation needs a summary")
    params = [
        _parameter(p, where) for p in op.get("parameters", []) if p["in"] in ("path", "query")
    ]
    body = op.get("requestBody")
    if body:
        content = body.get("content", {}).get("application/json")
        if content is None:
            raise SpecError(f"{where}: only JSON bodies can be described")
        params.append(
            {
                "name": "body",
                "in": "body",
                "required": bool(body.get("required", False)),
                "schema": convert_schema(content["schema"], f"{where} body"),
            }
        )
    responses: dict[str, Any] = {}
    for code, resp in op.get("responses", {}).items():
        if not code.startswith("2"):
            continue
        entry: dict[str, Any] = {"description": "success"}
        schema = resp.get("content", {}).get("application/json", {}).get("schema")
        if schema and code != "204":
            entry["schema"] = convert_schema(schema, f"{where} response")
        responses[code] = entry
        break
    if not responses:
        raise SpecError(f"{where}: no success response declared")
    return {"summary": summary, "parameters": params, "responses": responses}


def _refs(node: Any) -> set[str]:
    """Names of the definitions `node` refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def generate(app: FastAPI) -> dict[str, Any]:
    """The Swagger 2.0 document for every route of `app` (FastAPI's own OpenAPI 3 is the input)."""
    openapi = app.openapi()
    paths: dict[str, dict[str, Any]] = {}
    for path, item in openapi.get("paths", {}).items():
        if path in ("/endpoints",):
            continue
        ops = {
            verb: _operation(item[verb], f"{verb.upper()} {path}") for verb in VERBS if verb in item
        }
        if ops:
            paths[path] = ops
    schemas = openapi.get("components", {}).get("schemas", {})
    definitions: dict[str, Any] = {}
    pending = _refs(paths)
    while pending:
        name = pending.pop()
        if name in definitions:
            continue
        definitions[name] = convert_schema(schemas[name], name)
        pending |= _refs(definitions[name]) - definitions.keys()
    return {
        "swagger": "2.0",
        "info": {"title": "civica", "version": civica.__version__},
        "basePath": "/",
        "schemes": ["http", "https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {"api_key": {"type": "basic"}},
        "security": [{"api_key": []}],
        "paths": paths,
        "definitions": definitions,
    }

"""Turn the server's Swagger 2.0 document (`GET /endpoints`) into `Operation`s: one per method,
with its Python name, its arguments, its `inspect.Signature` and its docstring."""

from __future__ import annotations

import keyword
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from inspect import Parameter, Signature
from typing import Any
from urllib.parse import quote

from civica.client.naming import camel_to_snake, list_alias, method_name, resource_name
from civica.client.response import ListResponse, Response

VERBS = ("get", "post", "put", "patch", "delete")
_TYPES: dict[str, type] = {
    "integer": int,
    "number": float,
    "string": str,
    "boolean": bool,
    "array": list,
    "object": dict,
}
_ITERATOR_DOC = (
    "iterator : bool, optional\n"
    "    If True, return a generator over every item of every page (requests page_num=1, 2, ...\n"
    "    until an empty page); page_num is then ignored."
)


class SpecError(ValueError):
    """The spec describes something no Python method can accept; names the operation."""


@dataclass(frozen=True)
class Arg:
    name: str  # the Python name (snake_case)
    wire: str  # the name in the spec, as sent to the server
    where: str  # "path", "query" or "body"
    required: bool
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class Call:
    """One bound call: where to send it and what."""

    path: str
    query: list[tuple[str, str]]
    body: dict[str, Any] | None
    iterator: bool


@dataclass(frozen=True)
class Operation:
    resource: str
    name: str
    verb: str
    path: str
    args: list[Arg]
    has_body: bool
    is_array: bool
    signature: Signature
    doc: str
    aliases: list[str] = field(default_factory=list)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """Check the caller's arguments like Python would and place them in path, query or body.
        Only what the caller passed is sent."""
        for key in kwargs:
            if key not in self.signature.parameters:
                raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r}")
        try:
            given = self.signature.bind(*args, **kwargs).arguments
        except TypeError as e:
            raise TypeError(f"{self.name}(): {e}") from None
        path = self.path
        query: list[tuple[str, str]] = []
        body: dict[str, Any] | None = {} if self.has_body else None
        for arg in self.args:
            if arg.name not in given:
                continue
            value = given[arg.name]
            if arg.where == "path":
                path = path.replace("{" + arg.wire + "}", quote(str(value), safe=""))
            elif arg.where == "query":
                query.extend(_query_pairs(arg.wire, value))
            elif body is not None:
                body[arg.wire] = value
        return Call(path.lstrip("/"), query, body, bool(given.get("iterator", False)))


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _query_pairs(key: str, value: Any) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield f"{key}[]", _query_value(item)
    else:
        yield key, _query_value(value)


class _Definitions:
    """Resolves `#/definitions/X` references one level at a time (definitions may be cyclic)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.definitions: Mapping[str, Any] = spec.get("definitions") or {}

    def __call__(self, schema: Mapping[str, Any] | None) -> Mapping[str, Any]:
        seen: set[str] = set()
        while schema is not None and "$ref" in schema:
            ref = str(schema["$ref"])
            if ref in seen or not ref.startswith("#/definitions/"):
                raise SpecError(f"cannot resolve {ref!r}")
            seen.add(ref)
            name = ref.rsplit("/", 1)[-1]
            if name not in self.definitions:
                raise SpecError(f"{ref!r} is not in the spec's definitions")
            schema = self.definitions[name]
        return schema or {}


def parse_spec(spec: Mapping[str, Any]) -> dict[str, dict[str, Operation]]:
    """Every resource's operations by method name. Like the public client: operations whose
    summary says "deprecated" are left out, and a later duplicate name wins."""
    resolve = _Definitions(spec)
    resources: dict[str, dict[str, Operation]] = {}
    for path, item in spec.get("paths", {}).items():
        for verb in VERBS:
            op = item.get(verb)
            if op is None or "deprecated" in str(op.get("summary", "")).lower():
                continue
            parsed = _operation(verb, path, op, resolve)
            resources.setdefault(parsed.resource, {})[parsed.name] = parsed
    return resources


def _operation(verb: str, path: str, op: Mapping[str, Any], resolve: _Definitions) -> Operation:
    where = f"{verb.upper()} {path}"
    args: list[Arg] = []
    has_body = False
    for param in op.get("parameters", []):
        if param["in"] == "body":
            has_body = True
            schema = resolve(param.get("schema"))
            needed = set(schema.get("required", []))
            for wire, prop in (schema.get("properties") or {}).items():
                args.append(Arg(camel_to_snake(wire), wire, "body", wire in needed, prop))
        elif param["in"] in ("path", "query"):
            required = bool(param.get("required")) or param["in"] == "path"
            args.append(
                Arg(camel_to_snake(param["name"]), param["name"], param["in"], required, param)
            )
        else:
            raise SpecError(f"{where}: {param['in']} parameters are not supported")
    names = [a.name for a in args]
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name) or names.count(name) > 1:
            raise SpecError(f"{where}: {name!r} cannot be a Python argument name (or repeats)")
    responses = op.get("responses") or {}
    success: Mapping[str, Any] = next(
        (r for code, r in responses.items() if str(code).startswith("2")), {}
    )
    returns = resolve(success.get("schema"))
    is_array = returns.get("type") == "array"
    query = {a.wire for a in args if a.where == "query"}
    iterable = verb == "get" and {"limit", "page_num"} <= query
    name = method_name(verb, path, is_array)
    alias = list_alias(verb, path, is_array)
    summary = str(op.get("summary", ""))
    return Operation(
        resource=resource_name(path),
        name=name,
        verb=verb.upper(),
        path=path,
        args=args,
        has_body=has_body,
        is_array=is_array,
        signature=_signature(args, iterable, is_array),
        doc=_docstring(where, summary, args, iterable, returns, resolve),
        aliases=[alias] if alias else [],
    )


def _signature(args: list[Arg], iterable: bool, is_array: bool) -> Signature:
    """Required arguments positional in spec order, optional ones keyword-only."""
    required = [
        Parameter(a.name, Parameter.POSITIONAL_OR_KEYWORD, annotation=_annotation(a.schema))
        for a in args
        if a.required
    ]
    optional = [
        Parameter(a.name, Parameter.KEYWORD_ONLY, default=None, annotation=_annotation(a.schema))
        for a in args
        if not a.required
    ]
    if iterable:
        optional.append(
            Parameter("iterator", Parameter.KEYWORD_ONLY, default=False, annotation=bool)
        )
    return Signature(
        [*required, *optional], return_annotation=ListResponse if is_array else Response
    )


def _annotation(schema: Mapping[str, Any]) -> Any:
    kind = dict if "$ref" in schema else _TYPES.get(schema.get("type", ""), Any)
    items = _TYPES.get(schema.get("items", {}).get("type", ""))
    return list[items] if kind is list and items else kind  # type: ignore[valid-type]


def _type_name(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type") or ("dict" if "$ref" in schema else "any")
    name = {"integer": "int", "number": "float", "string": "str", "boolean": "bool"}.get(kind, kind)
    name = {"array": "list", "object": "dict"}.get(name, name)
    items = schema.get("items")
    if kind == "array" and items:
        name += f"[{_type_name(items)}]"
    return f"{name} ({schema['format']})" if schema.get("format") else name


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=79, initial_indent=indent, subsequent_indent=indent)


def _describe(
    name: str, schema: Mapping[str, Any], level: int, optional: bool = False
) -> list[str]:
    """The docstring lines for one field: `name : type[, optional]` and its description."""
    indent = "    " * level
    dash = "- " if level else ""
    lines = [f"{indent}{dash}{name} : {_type_name(schema)}{', optional' if optional else ''}"]
    if schema.get("description"):
        lines.append(_wrap(str(schema["description"]), indent + "    "))
    return lines


def _nested(schema: Mapping[str, Any], resolve: _Definitions, level: int) -> list[str]:
    """The docstring lines for the fields inside `schema` (or its items), two levels deep."""
    if level > 2:
        return []
    target = resolve(schema)
    if target.get("type") == "array":
        target = resolve(target.get("items"))
    lines: list[str] = []
    for name, prop in (target.get("properties") or {}).items():
        lines += _describe(camel_to_snake(name), prop, level)
        lines += _nested(prop, resolve, level + 1)
    return lines


def _docstring(
    where: str,
    summary: str,
    args: list[Arg],
    iterable: bool,
    returns: Mapping[str, Any],
    resolve: _Definitions,
) -> str:
    parts = [_wrap(summary, ""), f"API URL: ``{where}``"]
    params: list[str] = []
    for arg in sorted(args, key=lambda a: not a.required):
        params += _describe(arg.name, arg.schema, 0, optional=not arg.required)
        if "enum" in arg.schema:
            params.append(f"    One of: {', '.join(map(repr, arg.schema['enum']))}.")
        if "default" in arg.schema:
            params.append(f"    Server default: {arg.schema['default']!r}.")
        params += _nested(arg.schema, resolve, 1)
    if iterable:
        params.append(_ITERATOR_DOC)
    if params:
        parts.append("Parameters\n----------\n" + "\n".join(params))
    if returns.get("type") == "array":
        head = "ListResponse\n    A list of Response objects, each with:"
    elif returns.get("properties"):
        head = "Response"
    else:
        head = "Response\n    Empty."
    parts.append("Returns\n-------\n" + "\n".join([head, *_nested(returns, resolve, 1)]))
    return "\n\n".join(parts)

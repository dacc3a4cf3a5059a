"""One class per resource, one method per operation, all generated from the spec."""

from __future__ import annotations

from collections.abc import Callable
from inspect import Parameter
from typing import TYPE_CHECKING, Any

from civica.client.spec import Operation, parse_spec

if TYPE_CHECKING:
    from civica.client.api import APIClient


class Resource:
    """The methods of one API resource (e.g. `client.projects`)."""

    def __init__(self, client: APIClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        methods = sorted(n for n in dir(self) if not n.startswith("_"))
        return f"<{type(self).__name__} resource: {', '.join(methods)}>"


def _method(op: Operation, name: str) -> Callable[..., Any]:
    def method(self: Resource, *args: Any, **kwargs: Any) -> Any:
        return self._client._call(op, args, kwargs)

    method.__name__ = name
    method.__doc__ = op.doc
    this = Parameter("self", Parameter.POSITIONAL_OR_KEYWORD)
    sig = op.signature.replace(parameters=[this, *op.signature.parameters.values()])
    method.__signature__ = sig  # type: ignore[attr-defined]
    return method


def build_classes(spec: dict[str, Any]) -> dict[str, type[Resource]]:
    """A `Resource` subclass per resource of the spec. civis' older `list_*` names of GETs that
    return an object are kept as aliases, but never hide a real method of the same name."""
    classes: dict[str, type[Resource]] = {}
    for resource, operations in parse_spec(spec).items():
        cls_name = "".join(word.title() for word in resource.split("_"))
        members: dict[str, Any] = {"__doc__": f"civica API ``/{resource}`` endpoints."}
        for op in operations.values():
            for alias in op.aliases:
                members[alias] = _method(op, alias)
        for name, op in operations.items():
            members[name] = _method(op, name)
        for fn in members.values():
            if callable(fn):
                fn.__qualname__ = f"{cls_name}.{fn.__name__}"
        classes[resource] = type(cls_name, (Resource,), members)
    return classes

"""What API calls return: read-only `Response` objects with snake_case keys, and the errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

from civica.client.naming import camel_to_snake

# Script arguments and environment variables are often ALL_CAPS names that must keep their case.
_KEEP_CASE = frozenset({"arguments", "environmentVariables"})


def wrap(value: Any, snake: bool = True) -> Any:
    if isinstance(value, Mapping):
        return Response(value, snake_case=snake)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def unwrap(value: Any) -> Any:
    if isinstance(value, Response):
        return value.json()
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class Response(Mapping[str, Any]):
    """One JSON object from the API, keys converted camelCase → snake_case (recursively, except the
    keys directly under `arguments` and `environmentVariables`). Read keys as attributes
    (`r.created_at`) or items (`r["created_at"]`; the original camelCase key works too).
    `Response(None)` is the empty result of a 204."""

    def __init__(
        self,
        json_data: Mapping[str, Any] | None,
        *,
        headers: httpx.Headers | None = None,
        snake_case: bool = True,
    ) -> None:
        self.json_data = json_data
        self.headers = headers
        self._data: dict[str, Any] = {}
        self._original: dict[str, Any] = {}
        for key, value in (json_data or {}).items():
            if key == "value" and json_data and json_data.get("objectType") == "JSONValue":
                converted = value  # a stored JSON value is the user's data, verbatim
            else:
                converted = wrap(value, snake=key not in _KEEP_CASE)
            self._data[camel_to_snake(key) if snake_case else key] = converted
            self._original[key] = converted

    def __getitem__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            return self._original[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"Response has no attribute {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Response({self.json()!r})"

    def json(self) -> dict[str, Any]:
        """A plain dict with the snake_case keys (`{}` for an empty response)."""
        return {key: unwrap(value) for key, value in self._data.items()}


class ListResponse(list[Any]):
    """A page of a list endpoint: a list of `Response`, with the HTTP headers in `.headers`."""

    def __init__(self, items: Iterable[Any], headers: httpx.Headers | None = None) -> None:
        super().__init__(items)
        self.headers = headers


class APIError(Exception):
    """A non-2xx answer. `str(e)` is like `(404) Project 9 not found (GET /projects/9)`."""

    def __init__(self, response: httpx.Response, message: str | None = None) -> None:
        self.response = response
        self.status_code = response.status_code
        self.error_message = message or _error_message(response)
        super().__init__(str(self))

    def __str__(self) -> str:
        request = self.response.request
        where = request.url.raw_path.decode("ascii", "replace")
        return f"({self.status_code}) {self.error_message} ({request.method} {where})"


class APIKeyError(APIError):
    """The server refused the API key (401)."""


def _error_message(response: httpx.Response) -> str:
    if not response.content:
        return response.reason_phrase or "No Response Content"
    try:
        body = response.json()
    except ValueError:
        return f"Response Content: {response.text}"
    if isinstance(body, dict) and body.get("errorDescription"):
        return str(body["errorDescription"])
    return "No Error Message Available"


def raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    if response.status_code == 401:
        raise APIKeyError(response)
    raise APIError(response)


def parse_json(response: httpx.Response) -> Any:
    """The body as JSON (None when empty); a body that is not JSON raises `APIError`."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise APIError(response, "Unable to parse JSON from the response") from None


def to_response(data: Any, headers: httpx.Headers | None = None) -> Response | ListResponse:
    if isinstance(data, list):
        return ListResponse((wrap(d) for d in data), headers)
    if data is None or isinstance(data, Mapping):
        return Response(data, headers=headers)
    raise TypeError(f"expected a JSON object or array from the API, got {type(data).__name__}")

"""`APIClient`: the HTTP session, the spec-built resources, retries and return types."""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import httpx

import civica
from civica.client.resources import Resource, build_classes
from civica.client.response import (
    APIError,
    Response,
    parse_json,
    raise_for_status,
    to_response,
    unwrap,
    wrap,
)
from civica.client.spec import Call, Operation

DEFAULT_ENDPOINT = "http://127.0.0.1:8000/"
RETURN_TYPES = frozenset({"civis", "raw", "pandas"})
MAX_ATTEMPTS = 5
MAX_WAIT_SECONDS = 60.0
_RETRY_ALWAYS = frozenset({429, 503})
_RETRY_IDEMPOTENT = frozenset({502, 504})  # not for POST and PATCH, which may have taken effect
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})

# Resource classes built from each server's spec, per (endpoint, api key): built once per process.
_classes: dict[tuple[str, str], dict[str, type[Resource]]] = {}
_classes_lock = threading.Lock()


def _setting(given: str | None, *names: str) -> str | None:
    return given or next((os.environ[n] for n in names if os.environ.get(n)), None)


class APIClient:
    """A client for a civica server, with one attribute per resource of its `/endpoints` spec
    (`client.projects.list()`, `client.credentials.post_temporary(id, duration=900)`, ...).

    Parameters
    ----------
    api_key : str, optional
        Defaults to the CIVICA_API_KEY, then the CIVIS_API_KEY environment variable.
    return_type : {'civis', 'raw', 'pandas'}
        'civis': `Response` objects (a `ListResponse` for list endpoints) with snake_case keys.
        'raw': the `httpx.Response`. 'pandas': a DataFrame for list endpoints, else as 'civis'.
    api_endpoint : str, optional
        Defaults to CIVICA_API_ENDPOINT, then CIVIS_API_ENDPOINT, then http://127.0.0.1:8000/.
    timeout : float
        Seconds to wait for the server on each request.
    force_refresh_api_spec : bool
        Download the spec again instead of reusing the one this process already fetched.
    """

    def __init__(
        self,
        api_key: str | None = None,
        return_type: str = "civis",
        api_endpoint: str | None = None,
        *,
        timeout: float = 60.0,
        force_refresh_api_spec: bool = False,
    ) -> None:
        key = _setting(api_key, "CIVICA_API_KEY", "CIVIS_API_KEY")
        if not key:
            raise OSError(
                "no API key: pass APIClient(api_key=...) or set CIVICA_API_KEY (or CIVIS_API_KEY)"
            )
        if return_type not in RETURN_TYPES:
            raise ValueError(f"return_type must be one of {sorted(RETURN_TYPES)}: {return_type!r}")
        endpoint = _setting(api_endpoint, "CIVICA_API_ENDPOINT", "CIVIS_API_ENDPOINT")
        endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/") + "/"
        self.api_endpoint = endpoint
        self.return_type = return_type
        self.last_response: httpx.Response | None = None
        self._user: Response | None = None
        self._http = httpx.Client(
            base_url=endpoint,
            auth=(key, ""),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": f"civica-python/{civica.__version__}"},
        )
        try:
            classes = self._resource_classes((endpoint, key), force_refresh_api_spec)
        except BaseException:
            self._http.close()
            raise
        self._resources = {name: cls(self) for name, cls in classes.items()}

    def _resource_classes(
        self, cache_key: tuple[str, str], refresh: bool
    ) -> dict[str, type[Resource]]:
        with _classes_lock:
            if refresh or cache_key not in _classes:
                spec = parse_json(self._request("GET", "endpoints"))
                if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
                    raise ValueError(f"{self.api_endpoint}endpoints is not a Swagger document")
                _classes[cache_key] = build_classes(spec)
            return _classes[cache_key]

    def __getattr__(self, name: str) -> Any:
        resources = self.__dict__.get("_resources", {})
        if name in resources:
            return resources[name]
        raise AttributeError(
            f"APIClient has no attribute {name!r}; the server's resources are: "
            + ", ".join(sorted(resources))
        )

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.__dict__.get("_resources", {})})

    @property
    def username(self) -> str:
        """The name of the user the API key belongs to."""
        return str(self.get_user()["username"])

    def get_user(self) -> Response:
        """`GET /users/me`, fetched once per client."""
        if self._user is None:
            user = to_response(parse_json(self._request("GET", "users/me")))
            assert isinstance(user, Response)
            self._user = user
        return self._user

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> APIClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------------

    def _call(self, op: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = op.bind(args, kwargs)
        if call.iterator:
            return self._pages(call)
        response = self._request(op.verb, call.path, call.query, call.body)
        if self.return_type == "raw":
            return response
        data = parse_json(response)
        if self.return_type == "pandas" and isinstance(data, list):
            return _dataframe(data)
        return to_response(data, response.headers)

    def _pages(self, call: Call) -> Iterator[Any]:
        """Every item of every page: page_num=1, 2, ... until a page is empty."""
        query = [(k, v) for k, v in call.query if k != "page_num"]
        page = 1
        while True:
            response = self._request("GET", call.path, [*query, ("page_num", str(page))])
            data = parse_json(response)
            if not data:
                return
            if not isinstance(data, list):
                raise APIError(response, "expected a JSON array from a paginated endpoint")
            yield from (wrap(item) for item in data)
            page += 1

    def _request(
        self,
        verb: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request, retrying 429 and 503 (and 502/504 for idempotent verbs) up to
        MAX_ATTEMPTS times, honouring Retry-After; raise `APIError` for any non-2xx answer."""
        retry_on = _RETRY_ALWAYS | (_RETRY_IDEMPOTENT if verb in _IDEMPOTENT else frozenset())
        for attempt in range(MAX_ATTEMPTS):
            response = self._http.request(verb, path, params=tuple(query or ()), json=body)
            self.last_response = response
            if response.status_code not in retry_on or attempt == MAX_ATTEMPTS - 1:
                break
            time.sleep(_wait_seconds(response, attempt))
        raise_for_status(response)
        return response


def _wait_seconds(response: httpx.Response, attempt: int) -> float:
    try:
        wait = float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        wait = 2.0**attempt
    return max(0.0, min(wait, MAX_WAIT_SECONDS))


def _dataframe(data: list[Any]) -> Any:
    try:
        pandas = importlib.import_module("pandas")
    except ImportError as e:
        raise ImportError(
            "return_type='pandas' needs pandas, which is not installed: pip install pandas"
        ) from e
    return pandas.DataFrame.from_records([unwrap(wrap(item)) for item in data])

"""civica's own client against a real server: every method comes from `/endpoints`."""

from __future__ import annotations

import inspect
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import civica
from civica.client import APIClient, APIError, APIKeyError, ListResponse, Response, method_name
from tests.conftest import LiveServer

# Names and required positional arguments the seed (operations.tsv) and the public client's helpers
# (official_client_calls.tsv) rely on: resource, method, verb, path, arguments ("-" for none).
# Checked for every route the running server offers.
SEED = """
projects    list                          GET    /projects                           -
projects    post                          POST   /projects                           name,description
projects    get                           GET    /projects/{project_id}              project_id
projects    put                           PUT    /projects/{project_id}              project_id
projects    list_shares                   GET    /projects/{id}/shares               id
projects    put_shares_users              PUT    /projects/{id}/shares/users         id,user_ids,permission_level
projects    put_shares_groups             PUT    /projects/{id}/shares/groups        id,group_ids,permission_level
projects    delete_shares_users           DELETE /projects/{id}/shares/users/{user_id} id,user_id
projects    put_archive                   PUT    /projects/{id}/archive              id,status
users       get_me                        GET    /users/me                           -
credentials list                          GET    /credentials                        -
credentials get                           GET    /credentials/{id}                   id
credentials post                          POST   /credentials                        type,username,password
credentials put                           PUT    /credentials/{id}                   id,type,username,password
credentials post_temporary                POST   /credentials/{id}/temporary         id
databases   list                          GET    /databases                          -
databases   list_schemas                  GET    /databases/{id}/schemas             id
databases   get_whitelist_ips             GET    /databases/{id}/whitelist-ips/{whitelisted_ip_id} id,whitelisted_ip_id
databases   post_whitelist_ips            POST   /databases/{id}/whitelist-ips       id,subnet_mask
databases   get_schemas_tables            GET    /databases/{id}/schemas/{schema_name}/tables/{table_name} id,schema_name,table_name
files       post                          POST   /files                              name
files       get                           GET    /files/{id}                         id
files       post_multipart                POST   /files/multipart                    name,num_parts
files       post_multipart_complete       POST   /files/multipart/{id}/complete      id
files       put_projects                  PUT    /files/{id}/projects/{project_id}   id,project_id
files       put_shares_users              PUT    /files/{id}/shares/users            id,user_ids,permission_level
jobs        get_runs                      GET    /jobs/{id}/runs/{run_id}            id,run_id
jobs        list_runs_outputs             GET    /jobs/{id}/runs/{run_id}/outputs    id,run_id
queries     post                          POST   /queries                            database,sql,preview_rows
imports     post                          POST   /imports                            name,sync_type,is_outbound
scripts     get_containers_runs           GET    /scripts/containers/{id}/runs/{run_id} id,run_id
scripts     post_containers_runs_outputs  POST   /scripts/containers/{id}/runs/{run_id}/outputs id,run_id,object_type,object_id
scripts     list_python3_runs_logs        GET    /scripts/python3/{id}/runs/{run_id}/logs id,run_id
"""  # noqa: E501


@pytest.fixture
def admin_client(live: LiveServer) -> Iterator[APIClient]:
    with APIClient(api_key=live.admin_key, api_endpoint=live.url) as client:
        yield client


def _spec(live: LiveServer) -> dict[str, Any]:
    with live.client(live.admin_key) as http:
        spec: dict[str, Any] = http.get("/endpoints").json()
        return spec


def _positional(method: Any) -> list[str]:
    return [
        p.name
        for p in inspect.signature(method).parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]


def test_top_level_package_exports_the_client() -> None:
    assert civica.APIClient is APIClient
    assert issubclass(APIKeyError, APIError) and issubclass(APIError, Exception)


def test_methods_and_signatures_of_projects(admin_client: APIClient) -> None:
    projects = admin_client.projects
    expected = "list post get put list_shares put_shares_users put_shares_groups put_archive"
    expected += " delete_shares_users delete_shares_groups"
    assert {n for n in dir(projects) if not n.startswith("_")} >= set(expected.split())
    post = inspect.signature(projects.post)
    assert _positional(projects.post) == ["name", "description"]
    assert post.parameters["note"].kind is inspect.Parameter.KEYWORD_ONLY
    assert post.parameters["note"].default is None
    assert post.parameters["name"].annotation is str
    assert _positional(projects.put_shares_users) == ["id", "user_ids", "permission_level"]
    assert (
        inspect.signature(projects.put_shares_users).parameters["user_ids"].annotation
        == (list[int])
    )
    listing = inspect.signature(projects.list).parameters
    assert {"limit", "page_num", "iterator"} <= set(listing)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in listing.values())
    assert "iterator" not in inspect.signature(projects.get).parameters
    assert projects.post.__name__ == "post"


def test_every_operation_of_the_spec_is_a_method(live: LiveServer, admin_client: APIClient) -> None:
    spec = _spec(live)
    for path, ops in spec["paths"].items():
        for verb, op in ops.items():
            schema = next(iter(op["responses"].values())).get("schema", {})
            name = method_name(verb, path, schema.get("type") == "array")
            resource = getattr(admin_client, path.strip("/").split("/")[0].replace("-", "_"))
            method = getattr(resource, name)
            required = [p["name"] for p in op["parameters"] if p["in"] == "path"]
            for p in op["parameters"]:
                if p["in"] == "body":
                    body = p["schema"]
                    if "$ref" in body:
                        body = spec["definitions"][body["$ref"].rsplit("/", 1)[-1]]
                    needed = body.get("required", [])
                    required += [
                        civica.client.naming.camel_to_snake(k)
                        for k in body.get("properties", {})
                        if k in needed
                    ]
            assert _positional(method) == required, f"{verb} {path}"
            # Long summaries are wrapped in the docstring: compare words.
            assert method.__doc__ and " ".join(op["summary"].split()) in " ".join(
                method.__doc__.split()
            )
            assert f"``{verb.upper()} {path}``" in method.__doc__


def test_seed_names_and_positional_arguments(live: LiveServer, admin_client: APIClient) -> None:
    offered = {
        f"{verb.upper()} {path}" for path, ops in _spec(live)["paths"].items() for verb in ops
    }
    checked = 0
    for line in SEED.strip().splitlines():
        resource, name, verb, path, positional = line.split()
        if f"{verb} {path}" not in offered:
            continue
        method = getattr(getattr(admin_client, resource), name)
        expected = [] if positional == "-" else positional.split(",")
        assert _positional(method) == expected, f"{resource}.{name}"
        checked += 1
    assert checked >= 9


def test_docstrings(admin_client: APIClient) -> None:
    doc = admin_client.projects.post.__doc__ or ""
    assert doc.startswith("Create a project")
    assert "Parameters\n----------\nname : str\n    The name of this project." in doc
    assert "note : str, optional" in doc
    assert "Returns\n-------\nResponse" in doc and "- created_at : str (date-time)" in doc
    listing = admin_client.projects.list.__doc__ or ""
    assert "iterator : bool, optional" in listing and "ListResponse" in listing
    assert "civica API ``/projects``" in (type(admin_client.projects).__doc__ or "")


def test_create_get_update_list_projects(admin_client: APIClient) -> None:
    created = admin_client.projects.post("Alpha", "first", note="remember")
    assert isinstance(created, Response)
    assert created.name == created["name"] == "Alpha" and created.note == "remember"
    assert created["autoShare"] is False and created.auto_share is False
    assert "auto_share" in created.json() and "created_at" in created.json()
    assert admin_client.last_response is not None
    assert admin_client.last_response.request.method == "POST"

    fetched = admin_client.projects.get(created.id)
    assert fetched.id == created.id and fetched.author.username == "admin"

    updated = admin_client.projects.put(created.id, name="Alpha 2")
    assert updated.name == "Alpha 2" and updated.description == "first"

    listed = admin_client.projects.list()
    assert isinstance(listed, ListResponse) and [p.name for p in listed] == ["Alpha 2"]
    assert listed.headers is not None and "content-type" in listed.headers
    assert admin_client.projects.list(hidden=True) == []


def test_iterator_fetches_pages_until_an_empty_one(admin_client: APIClient) -> None:
    names = {f"p{i}" for i in range(5)}
    for name in names:
        admin_client.projects.post(name, "paged")
    pages = admin_client.projects.list(limit=2, iterator=True)
    assert inspect.isgenerator(pages)
    items = list(pages)
    assert all(isinstance(p, Response) for p in items)
    assert {p.name for p in items} == names and len(items) == 5
    last = admin_client.last_response
    assert last is not None and last.json() == []
    assert last.request.url.params["page_num"] == "4" and last.request.url.params["limit"] == "2"
    assert len(admin_client.projects.list(limit=2)) == 2


def test_return_types_raw_and_pandas(live: LiveServer, admin_client: APIClient) -> None:
    admin_client.projects.post("Beta", "for frames")
    with APIClient(live.admin_key, "raw", live.url) as raw:
        response = raw.projects.list()
        assert isinstance(response, httpx.Response) and response.json()[0]["name"] == "Beta"
    pd = pytest.importorskip("pandas")
    with APIClient(live.admin_key, "pandas", live.url) as frames:
        df = frames.projects.list()
        assert isinstance(df, pd.DataFrame)
        assert list(df["name"]) == ["Beta"] and "auto_share" in df.columns
        assert isinstance(frames.projects.get(int(df["id"][0])), Response)
    with pytest.raises(ValueError, match="return_type"):
        APIClient(live.admin_key, "yaml", live.url)


def test_api_error_on_404(admin_client: APIClient) -> None:
    with pytest.raises(APIError) as info:
        admin_client.projects.get(987654)
    err = info.value
    assert err.status_code == 404 and not isinstance(err, APIKeyError)
    assert err.error_message == "Project 987654 not found"
    assert str(err) == "(404) Project 987654 not found (GET /projects/987654)"
    assert err.response.status_code == 404


def test_api_key_error_on_a_bad_key(live: LiveServer) -> None:
    with pytest.raises(APIKeyError) as info:
        APIClient(api_key="not-a-real-key", api_endpoint=live.url)
    assert info.value.status_code == 401 and "GET /endpoints" in str(info.value)


def test_sharing_a_project_with_another_user(live: LiveServer) -> None:
    _, owner_key = live.new_user()
    reader_id, reader_key = live.new_user()
    _, stranger_key = live.new_user()
    owner = APIClient(owner_key, api_endpoint=live.url)
    reader = APIClient(reader_key, api_endpoint=live.url)
    stranger = APIClient(stranger_key, api_endpoint=live.url)
    try:
        project = owner.projects.post("Shared", "with one reader")
        shares = owner.projects.put_shares_users(project.id, [reader_id], "read")
        assert reader_id in [u.id for u in shares.readers.users]
        assert [p.id for p in reader.projects.list()] == [project.id]
        assert reader.projects.get(project.id).name == "Shared"
        assert stranger.projects.list() == []
        with pytest.raises(APIError) as info:
            stranger.projects.get(project.id)
        assert info.value.status_code == 404

        gone = owner.projects.delete_shares_users(project.id, reader_id)
        assert isinstance(gone, Response) and len(gone) == 0 and gone.json() == {}
        assert reader.projects.list() == []
        assert reader.username != owner.username and reader.get_user().id == reader_id
    finally:
        for client in (owner, reader, stranger):
            client.close()


def test_bad_arguments_raise_type_error(admin_client: APIClient) -> None:
    with pytest.raises(TypeError, match="'colour'"):
        admin_client.projects.post("Gamma", "x", colour="red")
    with pytest.raises(TypeError, match="iterator"):
        admin_client.projects.get(1, iterator=True)
    with pytest.raises(TypeError, match="description"):
        admin_client.projects.post("Gamma")
    with pytest.raises(AttributeError, match="projects"):
        _ = admin_client.no_such_resource


def test_user_and_spec_cache(live: LiveServer, admin_client: APIClient) -> None:
    assert admin_client.username == "admin"
    assert admin_client.get_user() is admin_client.get_user()
    assert admin_client.users.get_me().username == "admin"
    assert admin_client.users.list_me().username == "admin"  # civis' older name
    with APIClient(live.admin_key, api_endpoint=live.url) as again:
        assert type(again.projects) is type(admin_client.projects)
        assert again.last_response is None  # the spec was not fetched again


def test_settings_from_the_environment(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CIVICA_API_KEY", "CIVIS_API_KEY", "CIVICA_API_ENDPOINT", "CIVIS_API_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(OSError, match="CIVICA_API_KEY"):
        APIClient()
    monkeypatch.setenv("CIVIS_API_KEY", live.admin_key)
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    with APIClient() as client:
        assert client.api_endpoint == live.url + "/" and client.username == "admin"
    monkeypatch.setenv("CIVICA_API_KEY", "wrong-key")
    monkeypatch.setenv("CIVIS_API_ENDPOINT", "http://127.0.0.1:9/")
    monkeypatch.setenv("CIVICA_API_ENDPOINT", live.url)
    with pytest.raises(APIKeyError):
        APIClient()


def test_response_conversion() -> None:
    data = {
        "createdAt": "now",
        "lastRun": {"finishedAt": None},
        "arguments": {"TABLE_NAME": "t", "myArg": 1},
        "environmentVariables": {"PATH_LIKE": "x"},
        "params": [{"defaultValue": 1}, "plain"],
        "objectType": "JSONValue",
        "value": {"keepThis": 1},
    }
    r = Response(data)
    assert r.created_at == r["createdAt"] == "now" and r.last_run.finished_at is None
    assert r.arguments["TABLE_NAME"] == "t" and r.arguments["myArg"] == 1
    assert r.environment_variables.json() == {"PATH_LIKE": "x"}
    assert r.params[0].default_value == 1 and r.params[1] == "plain"
    assert r.value == {"keepThis": 1}
    assert r.json()["last_run"] == {"finished_at": None}
    assert Response(None).json() == {} and len(Response(None)) == 0
    with pytest.raises(AttributeError):
        _ = r.missing


# -- a tiny real HTTP server, for what the civica server never does (503s, echoing requests) ----

ECHO_SPEC = {
    "swagger": "2.0",
    "paths": {
        "/things": {
            "get": {
                "summary": "List things",
                "parameters": [
                    {"name": "flag", "in": "query", "required": False, "type": "boolean"},
                    {
                        "name": "ids",
                        "in": "query",
                        "required": False,
                        "type": "array",
                        "items": {"type": "integer"},
                    },
                ],
                "responses": {"200": {"description": "ok", "schema": {"type": "array"}}},
            }
        },
        "/things/{name}": {
            "get": {
                "summary": "Get a thing",
                "parameters": [{"name": "name", "in": "path", "required": True, "type": "string"}],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/flaky": {
            "get": {"summary": "Flaky read", "responses": {"200": {"description": "ok"}}},
            "post": {"summary": "Flaky write", "responses": {"200": {"description": "ok"}}},
        },
        "/broken": {
            "get": {"summary": "Broken read", "responses": {"200": {"description": "ok"}}},
            "post": {"summary": "Broken write", "responses": {"200": {"description": "ok"}}},
            "put": {
                "summary": "Old write (Deprecated)",
                "responses": {"200": {"description": "ok"}},
            },
        },
    },
}


class _EchoHandler(BaseHTTPRequestHandler):
    hits: Counter[str] = Counter()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        url = urlsplit(self.path)
        hit = f"{self.command} {url.path}"
        self.hits[hit] += 1
        again = {"Retry-After": "0"}
        if url.path == "/endpoints":
            self._send(200, ECHO_SPEC)
        elif url.path == "/things":
            self._send(200, [{"rawQuery": url.query, "body": body}])
        elif url.path.startswith("/things/"):
            self._send(200, {"rawPath": url.path, "body": body})
        elif url.path == "/flaky" and self.hits[hit] == 1:
            self._send(503 if self.command == "GET" else 429, {"errorDescription": "busy"}, again)
        elif url.path == "/flaky":
            self._send(200, {"attempts": self.hits[hit]})
        else:
            self._send(502, {"errorDescription": "bad gateway"}, again)

    do_GET = do_POST = do_PUT = _route


@pytest.fixture
def echo() -> Iterator[APIClient]:
    _EchoHandler.hits = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with APIClient("echo-key", api_endpoint=f"http://127.0.0.1:{server.server_port}") as c:
            yield c
    finally:
        server.shutdown()
        server.server_close()


def test_query_and_path_encoding(echo: APIClient) -> None:
    (page,) = echo.things.list(flag=True, ids=[1, 2])
    assert page.raw_query == "flag=true&ids%5B%5D=1&ids%5B%5D=2" and page.body is None
    assert echo.things.list(flag=False, ids=None)[0].raw_query == "flag=false"
    assert echo.things.get("a b/c").raw_path == "/things/a%20b%2Fc"


def test_retries_honour_retry_after(echo: APIClient) -> None:
    assert echo.flaky.get().attempts == 2  # 503, then 200
    assert echo.flaky.post().attempts == 2  # 429 is retried for POST too
    with pytest.raises(APIError) as info:
        echo.broken.post()
    assert info.value.status_code == 502 and _EchoHandler.hits["POST /broken"] == 1
    with pytest.raises(APIError):
        echo.broken.get()
    assert _EchoHandler.hits["GET /broken"] == 5  # bounded
    assert not hasattr(echo.broken, "put")  # "deprecated" operations are left out, as in civis

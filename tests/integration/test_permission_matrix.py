"""The permission matrix: every operation on a shared object, tried by every kind of caller.

One table of operations (`OPS`), each with the permission level it needs, and one table of list
filters (`LISTS`). Each kind of object (`KINDS`) says how to make one and who holds which level
on it. For every operation and every actor:

- no API key: 401 (with `WWW-Authenticate`), whatever the object;
- enough permission: the documented success status;
- cannot read the object: 404, with a body identical (up to the id) to the 404 for an id that
  does not exist, so objects cannot be probed;
- can read but needs more: 403.

Lists must show an object exactly to those who can read it (at the level asked for), and their
totals count nothing else. Project contents show each viewer only the objects they can read.

To add a kind (files, scripts, jobs...): add a `Kind` row with its `create`, then its operations
as `Op` rows (`share_ops` and `archive_op` give the shared capabilities), and its lists.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from civica.services.permissions import Level
from tests.conftest import LiveServer

READ, WRITE, MANAGE, NONE = Level.READ, Level.WRITE, Level.MANAGE, Level.NONE
ACTORS = (
    "owner",
    "reader",
    "writer",
    "manager",
    "group_writer",
    "stranger",
    "admin",
    "anonymous",
    "run_key",
    "ended_run_key",
)
# A run's own key acts as the script's owner (here: the reader) while the run runs; once the run
# ended it is revoked, and answers like no key at all.
NO_KEY = ("anonymous", "ended_run_key")
# Levels granted through shares on shareable kinds (group_writer through a group).
SHARED = {"reader": READ, "writer": WRITE, "manager": MANAGE, "group_writer": WRITE}
MISSING = 987_654_321  # an id no object has
SECRET = "matrix-s3cret-never-shown"

Body = Callable[["World", int], Any]


@dataclass
class World:
    """The server, one client per actor, and the ids the operation templates name."""

    live: LiveServer
    clients: dict[str, httpx.Client]
    users: dict[str, int]
    ids: dict[str, int] = field(default_factory=dict)
    levels: dict[str, Level] = field(default_factory=dict)
    serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def as_(self, actor: str) -> httpx.Client:
        return self.clients[actor]

    def fill(self, template: str, **extra: int) -> str:
        values = {**self.ids, **extra}
        return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), template)


@dataclass(frozen=True)
class Kind:
    name: str
    create: Callable[[World], int]  # makes the object as its owner; returns its id
    shares_path: str | None = None  # "/projects/{id}" when it has shares
    everyone: Level = NONE  # what every signed-in user holds without a share
    owner_is_admin: bool = False  # only admins can make objects of this kind
    owner_of: Callable[[dict[str, Any]], int] | None = None  # a list item's owner


@dataclass(frozen=True)
class Op:
    kind: str
    method: str
    path: str  # `{id}` is the object; other `{names}` come from World.ids or `prepare`
    level: Level
    ok: int = 200
    body: Body | None = None
    query: dict[str, str] = field(default_factory=dict)
    # Run as the owner before each attempt: restores what an earlier attempt changed, and
    # returns extra path values (e.g. a fresh whitelist rule to delete).
    prepare: Callable[[World], dict[str, int]] | None = None

    @property
    def label(self) -> str:
        suffix = f"?{'&'.join(self.query)}" if self.query else ""
        return f"{self.method} {self.path}{suffix}"


@dataclass(frozen=True)
class ListRow:
    kind: str
    path: str
    params: dict[str, str]
    level: Level  # an actor sees the object in this list iff they hold at least this


# ---- kinds ---------------------------------------------------------------------------------


def _create(world: World, path: str, body: dict[str, Any], actor: str = "owner") -> int:
    r = world.as_(actor).post(world.fill(path), json=body)
    assert r.status_code in (200, 201), r.text
    return int(r.json()["id"])


def _make_project(world: World) -> int:
    return _create(world, "/projects", {"name": "matrix", "description": "shared"})


def _make_credential(world: World) -> int:
    body = {
        "type": "Database",
        "username": "owner-login",
        "password": SECRET,
        "remoteHostId": world.ids["embedded"],
    }
    return _create(world, "/credentials", body)


def _make_database(world: World) -> int:
    path = world.live.platform.settings.data_dir / "matrix.duckdb"
    body = {"name": "matrix", "url": f"duckdb:///{path}", "type": "RemoteHostTypes::DuckDB"}
    db = _create(world, "/remote_hosts", body)
    # A rule admitting this machine, so reading schemas stays possible for everyone.
    world.ids["rule"] = _create(
        world, f"/databases/{db}/whitelist-ips", {"subnetMask": "127.0.0.0/8"}
    )
    return db


def _make_file(world: World) -> int:
    return _create(world, "/files", {"name": "matrix.csv"})


def _make_json_value(world: World) -> int:
    return _create(world, "/json_values", {"valueStr": '{"rows": 3}', "name": "matrix"})


def _make_script(world: World) -> int:
    return _create(world, "/scripts/python3", {"name": "matrix", "source": "print(1)"})


def _make_model(world: World) -> int:
    return _create(world, "/models", {"modelName": "matrix", "description": "shared"})


def _make_report(world: World) -> int:
    return _create(world, "/reports", {"name": "matrix", "codeBody": "<p>shared</p>"})


def _make_import(world: World) -> int:
    body = {"name": "matrix", "syncType": "Dbsync", "isOutbound": False}
    return _create(world, "/imports", body)


def _author(item: dict[str, Any]) -> int:
    return int(item["author"]["id"])


KINDS = {
    k.name: k
    for k in [
        Kind(
            "project",
            _make_project,
            shares_path="/projects/{id}",
            owner_of=lambda item: int(item["author"]["id"]),
        ),
        Kind("credential", _make_credential, owner_of=lambda item: int(item["user"]["id"])),
        Kind("database", _make_database, everyone=READ, owner_is_admin=True),
        Kind("file", _make_file, shares_path="/files/{id}"),
        Kind("json_value", _make_json_value, shares_path="/json_values/{id}"),
        Kind("script", _make_script, shares_path="/scripts/python3/{id}", owner_of=_author),
        Kind("model", _make_model, shares_path="/models/{id}", owner_of=_author),
        Kind("report", _make_report, shares_path="/reports/{id}", owner_of=_author),
        Kind("import", _make_import, shares_path="/imports/{id}", owner_of=_author),
    ]
}


# ---- operations ----------------------------------------------------------------------------


def _reshare(principal: str, base: str) -> Callable[[World], dict[str, int]]:
    """Give the bystander (user or group) a share again, so there is one to revoke."""

    def prepare(world: World) -> dict[str, int]:
        key = "userIds" if principal == "users" else "groupIds"
        target = world.ids["bystander" if principal == "users" else "bystanders"]
        r = world.as_("owner").put(
            world.fill(f"{base}/shares/{principal}"),
            json={key: [target], "permissionLevel": "read"},
        )
        assert r.status_code == 200, r.text
        return {}

    return prepare


def share_ops(kind: str, base: str) -> list[Op]:
    """The shares capability of a kind mounted at `base` (e.g. /projects/{id})."""
    return [
        Op(kind, "GET", f"{base}/shares", READ),
        Op(
            kind,
            "PUT",
            f"{base}/shares/users",
            MANAGE,
            body=lambda w, n: {"userIds": [w.ids["bystander"]], "permissionLevel": "read"},
        ),
        Op(
            kind,
            "PUT",
            f"{base}/shares/groups",
            MANAGE,
            body=lambda w, n: {"groupIds": [w.ids["bystanders"]], "permissionLevel": "write"},
        ),
        Op(
            kind,
            "DELETE",
            f"{base}/shares/users/{{bystander}}",
            MANAGE,
            ok=204,
            prepare=_reshare("users", base),
        ),
        Op(
            kind,
            "DELETE",
            f"{base}/shares/groups/{{bystanders}}",
            MANAGE,
            ok=204,
            prepare=_reshare("groups", base),
        ),
    ]


def archive_op(kind: str, base: str) -> Op:
    def unarchive(world: World) -> dict[str, int]:
        r = world.as_("owner").put(world.fill(f"{base}/archive"), json={"status": False})
        assert r.status_code == 200, r.text
        return {}

    return Op(
        kind,
        "PUT",
        f"{base}/archive",
        MANAGE,
        body=lambda w, n: {"status": True},
        prepare=unarchive,
    )


def _fresh_rule(world: World) -> dict[str, int]:
    n = next(world.serial)
    rule = _create(world, "/databases/{id}/whitelist-ips", {"subnetMask": f"172.16.{n}.0/24"})
    return {"fresh_rule": rule}


def _login(world: World, n: int) -> dict[str, Any]:
    return {"type": "Database", "username": f"login{n}", "password": SECRET}


OPS: list[Op] = [
    # projects
    Op("project", "GET", "/projects/{id}", READ),
    Op("project", "PUT", "/projects/{id}", WRITE, body=lambda w, n: {"note": f"edit {n}"}),
    *share_ops("project", "/projects/{id}"),
    archive_op("project", "/projects/{id}"),
    # credentials: private to their owner (and admins)
    Op("credential", "GET", "/credentials/{id}", READ),
    Op("credential", "PUT", "/credentials/{id}", WRITE, body=_login),
    Op("credential", "POST", "/credentials/{id}/temporary", MANAGE, body=lambda w, n: {}),
    # using a credential to reach a database needs read on the credential
    Op(
        "credential",
        "GET",
        "/databases/{embedded}/schemas",
        READ,
        query={"credential_id": "{id}"},
    ),
    # databases: everyone reads them; admins and their owner manage them
    Op("database", "GET", "/databases/{id}", READ),
    Op("database", "GET", "/remote_hosts/{id}", READ),
    Op("database", "GET", "/databases/{id}/schemas", READ),
    Op("database", "GET", "/databases/{id}/whitelist-ips", READ),
    Op("database", "GET", "/databases/{id}/whitelist-ips/{rule}", READ),
    Op(
        "database",
        "POST",
        "/databases/{id}/whitelist-ips",
        MANAGE,
        body=lambda w, n: {"subnetMask": f"10.{n % 250}.{n // 250}.0/24"},
    ),
    Op(
        "database",
        "DELETE",
        "/databases/{id}/whitelist-ips/{fresh_rule}",
        MANAGE,
        ok=204,
        prepare=_fresh_rule,
    ),
    # files and JSON values
    Op("file", "GET", "/files/{id}", READ),
    *share_ops("file", "/files/{id}"),
    Op("json_value", "GET", "/json_values/{id}", READ),
    Op("json_value", "PATCH", "/json_values/{id}", WRITE, body=lambda w, n: {"name": f"v{n}"}),
    *share_ops("json_value", "/json_values/{id}"),
    # scripts (and the job view of them): starting a run needs write
    Op("script", "GET", "/scripts/python3/{id}", READ),
    Op("script", "GET", "/jobs/{id}", READ),
    Op("script", "PATCH", "/scripts/python3/{id}", WRITE, body=lambda w, n: {"name": f"s{n}"}),
    Op("script", "GET", "/scripts/python3/{id}/runs", READ),
    Op("script", "POST", "/scripts/python3/{id}/runs", WRITE, ok=202),
    Op("script", "POST", "/jobs/{id}/runs", WRITE, ok=201),
    *share_ops("script", "/scripts/python3/{id}"),
    archive_op("script", "/scripts/python3/{id}"),
    # models
    Op("model", "GET", "/models/{id}", READ),
    Op("model", "PATCH", "/models/{id}", WRITE, ok=204, body=lambda w, n: {"description": f"{n}"}),
    Op("model", "GET", "/models/{id}/builds", READ),
    Op("model", "GET", "/models/{id}/schedules", READ),
    *share_ops("model", "/models/{id}"),
    archive_op("model", "/models/{id}"),
    # reports
    Op("report", "GET", "/reports/{id}", READ),
    Op("report", "PATCH", "/reports/{id}", WRITE, body=lambda w, n: {"name": f"r{n}"}),
    Op("report", "GET", "/reports/{id}/snapshots", READ),
    *share_ops("report", "/reports/{id}"),
    archive_op("report", "/reports/{id}"),
    # imports
    Op("import", "GET", "/imports/{id}", READ),
    Op("import", "GET", "/imports/{id}/runs", READ),
    *share_ops("import", "/imports/{id}"),
    archive_op("import", "/imports/{id}"),
]

LISTS: list[ListRow] = [
    ListRow("project", "/projects", {}, READ),
    ListRow("project", "/projects", {"permission": "read"}, READ),
    ListRow("project", "/projects", {"permission": "write"}, WRITE),
    ListRow("project", "/projects", {"permission": "manage"}, MANAGE),
    ListRow("project", "/projects", {"author": "{owner}"}, READ),
    ListRow("credential", "/credentials", {}, READ),
    ListRow("credential", "/credentials", {"type": "Database"}, READ),
    ListRow("credential", "/credentials", {"remote_host_id": "{embedded}"}, READ),
    ListRow("database", "/databases", {}, READ),
    ListRow("database", "/remote_hosts", {}, READ),
    ListRow("script", "/scripts", {"type": "python3"}, READ),
    ListRow("script", "/scripts", {}, READ),
    ListRow("script", "/jobs", {}, READ),
    ListRow("model", "/models", {}, READ),
    ListRow("report", "/reports", {}, READ),
    ListRow("import", "/imports", {}, READ),
]


# ---- the world -----------------------------------------------------------------------------


@pytest.fixture
def world(live: LiveServer) -> Iterator[World]:
    users: dict[str, int] = {}
    keys: dict[str, str | None] = {"admin": live.admin_key, "anonymous": None}
    for actor in ("owner", "reader", "writer", "manager", "group_writer", "stranger"):
        users[actor], keys[actor] = live.new_user(actor)
    users["db_owner"], keys["db_owner"] = live.new_user("db_owner", admin=True)
    users["bystander"], _ = live.new_user("bystander")
    keys["run_key"], keys["ended_run_key"] = _run_keys(live, users["reader"])
    clients = {actor: live.client(key) for actor, key in keys.items()}
    w = World(live=live, clients=clients, users=users)
    with live.client(live.admin_key) as admin:
        users["admin"] = int(admin.get("/users/me").json()["id"])
        w.ids["embedded"] = int(admin.get("/databases").json()[0]["id"])
    w.ids["owner"] = users["owner"]
    w.ids["bystander"] = users["bystander"]
    w.ids["writers"] = live.new_group("writers", ["group_writer"])
    w.ids["bystanders"] = live.new_group("bystanders", ["bystander"])
    try:
        yield w
    finally:
        for client in clients.values():
            client.close()


def _run_keys(live: LiveServer, user_id: int) -> tuple[str, str]:
    """Two keys issued as the runner issues a run's key; the second revoked as a run's end
    revokes it (civica.execution.queue.finish)."""
    from civica.db.models import UserRow
    from civica.execution.runner import RUN_KEY_LIFETIME
    from civica.services import users

    with live.platform.transaction() as session:
        owner = session.get(UserRow, user_id)
        assert owner is not None
        _, running = users.issue_api_key(
            session=session, user=owner, name="run 1 of job 1", expires_in=RUN_KEY_LIFETIME
        )
        ended_row, ended = users.issue_api_key(
            session=session, user=owner, name="run 2 of job 1", expires_in=RUN_KEY_LIFETIME
        )
        users.revoke_api_key(session=session, key_id=ended_row.id)
    return running, ended


def _setup_kind(world: World, kind: Kind) -> None:
    """Make the object as its owner, share it, and record who holds what on it."""
    if kind.owner_is_admin:
        world.clients["owner"].close()
        world.clients["owner"] = world.clients["db_owner"]
        world.users["owner"] = world.users["db_owner"]
    world.ids["id"] = kind.create(world)
    world.levels = {actor: kind.everyone for actor in ACTORS}
    world.levels.update(owner=MANAGE, admin=MANAGE, anonymous=NONE, ended_run_key=NONE)
    if kind.shares_path:
        base = world.fill(kind.shares_path)
        owner = world.as_("owner")
        for actor, level in SHARED.items():
            if actor == "group_writer":
                continue
            r = owner.put(
                f"{base}/shares/users",
                json={"userIds": [world.users[actor]], "permissionLevel": level.label},
            )
            assert r.status_code == 200, r.text
            world.levels[actor] = level
        r = owner.put(
            f"{base}/shares/groups",
            json={"groupIds": [world.ids["writers"]], "permissionLevel": "write"},
        )
        assert r.status_code == 200, r.text
        world.levels["group_writer"] = WRITE
    world.levels["run_key"] = world.levels["reader"]


def _expected(world: World, op: Op, actor: str) -> int:
    if actor in NO_KEY:
        return 401
    have = world.levels[actor]
    if have >= op.level:
        return op.ok
    return 404 if have < READ else 403


def _send(world: World, op: Op, actor: str, object_id: int | None = None) -> httpx.Response:
    extra = op.prepare(world) if op.prepare else {}
    if object_id is not None:
        extra["id"] = object_id
    n = next(world.serial)
    params = {k: world.fill(v, **extra) for k, v in op.query.items()}
    body = op.body(world, n) if op.body else None
    return world.as_(actor).request(
        op.method, world.fill(op.path, **extra), params=params, json=body
    )


def _normalised(response: httpx.Response, object_id: int) -> tuple[int, str]:
    return response.status_code, re.sub(rf"\b{object_id}\b", "<id>", response.text)


def _check_op(world: World, op: Op, actor: str) -> str | None:
    """None when the actor got what the matrix says, else what went wrong."""
    expected = _expected(world, op, actor)
    r = _send(world, op, actor)
    where = f"{op.label} as {actor}"
    if r.status_code != expected:
        return f"{where}: expected {expected}, got {r.status_code} {r.text[:300]}"
    if expected >= 400:
        body = r.json()
        if not isinstance(body.get("errorDescription"), str):
            return f"{where}: error without errorDescription: {r.text[:300]}"
        if SECRET in r.text:
            return f"{where}: the error shows a password"
    if expected == 401 and "www-authenticate" not in r.headers:
        return f"{where}: 401 without WWW-Authenticate"
    if expected in (401, 404):
        # Indistinguishable from asking about an object that does not exist.
        missing = _send(world, op, actor, object_id=MISSING)
        mine, theirs = _normalised(r, world.ids["id"]), _normalised(missing, MISSING)
        if mine != theirs:
            return f"{where}: differs from the answer for a missing id: {mine} vs {theirs}"
    return None


def _check_list(world: World, kind: Kind, row: ListRow, actor: str) -> str | None:
    params = {k: world.fill(v) for k, v in row.params.items()}
    r = world.as_(actor).get(row.path, params=params)
    where = f"GET {row.path} {params} as {actor}"
    if actor in NO_KEY:
        return None if r.status_code == 401 else f"{where}: expected 401, got {r.status_code}"
    if r.status_code != 200:
        return f"{where}: expected 200, got {r.status_code} {r.text[:300]}"
    items = r.json()
    ids = [item["id"] for item in items]
    should_see = world.levels[actor] >= row.level
    if (world.ids["id"] in ids) != should_see:
        return f"{where}: {'missing' if should_see else 'shows'} {kind.name} {world.ids['id']}"
    total = r.headers.get("x-pagination-total-entries")
    if total is not None and int(total) != len(items):
        return f"{where}: X-Pagination-Total-Entries is {total} for {len(items)} items"
    if actor == "stranger" and kind.owner_of is not None:
        foreign = [item["id"] for item in items if kind.owner_of(item) != world.users[actor]]
        if foreign:
            return f"{where}: a stranger sees others' {kind.name}s {foreign}"
    if SECRET in r.text:
        return f"{where}: the list shows a password"
    return None


@pytest.mark.parametrize("kind_name", sorted(KINDS))
def test_permission_matrix(world: World, kind_name: str) -> None:
    kind = KINDS[kind_name]
    _setup_kind(world, kind)
    problems: list[str] = []
    cases = 0
    for op in (op for op in OPS if op.kind == kind_name):
        for actor in ACTORS:
            cases += 1
            problem = _check_op(world, op, actor)
            if problem:
                problems.append(problem)
    for row in (row for row in LISTS if row.kind == kind_name):
        for actor in ACTORS:
            cases += 1
            problem = _check_list(world, kind, row, actor)
            if problem:
                problems.append(problem)
    assert cases >= len(ACTORS) * 2
    assert not problems, f"{len(problems)} of {cases} cases wrong:\n" + "\n".join(problems)


def test_project_contents_show_each_viewer_only_what_they_can_read(world: World) -> None:
    """Objects in a project are listed to a viewer only when the viewer can read them."""
    _setup_kind(world, KINDS["project"])
    project = world.ids["id"]
    owner, reader, writer = world.as_("owner"), world.as_("reader"), world.as_("writer")
    script = _create(world, "/scripts/python3", {"name": "private", "source": "print(1)"})
    assert owner.put(f"/scripts/python3/{script}/projects/{project}").status_code == 204
    # The writer may put their own object in the project: the owner cannot read it.
    theirs = _create(world, "/scripts/python3", {"name": "theirs", "source": "1"}, "writer")
    assert writer.put(f"/scripts/python3/{theirs}/projects/{project}").status_code == 204

    def contents(client: httpx.Client) -> set[int]:
        r = client.get(f"/projects/{project}")
        assert r.status_code == 200, r.text
        body = r.json()
        listed = {o["objectId"] for o in body["allObjects"]}
        assert {s["id"] for s in body["scripts"]} == listed
        return listed

    assert contents(owner) == {script}
    assert contents(reader) == set()
    assert contents(writer) == {theirs}
    assert contents(world.as_("admin")) == {script, theirs}
    assert world.as_("stranger").get(f"/projects/{project}").status_code == 404
    # The projects an object is in are listed only to those who can read both.
    r = reader.get(f"/scripts/python3/{script}/projects")
    assert r.status_code == 404
    r = owner.put(
        f"/scripts/python3/{script}/shares/users",
        json={"userIds": [world.users["reader"]], "permissionLevel": "read"},
    )
    assert r.status_code == 200, r.text
    assert contents(reader) == {script}
    assert [p["id"] for p in reader.get(f"/scripts/python3/{script}/projects").json()] == [project]
    # A reader of the project cannot add their own objects to it (needs write on the project).
    mine = _create(world, "/scripts/python3", {"name": "mine", "source": "1"}, "reader")
    assert reader.put(f"/scripts/python3/{mine}/projects/{project}").status_code == 403
    assert (
        world.as_("stranger").put(f"/scripts/python3/{mine}/projects/{project}").status_code == 404
    )

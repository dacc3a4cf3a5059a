"""`civica serve` and `civica admin` as a newcomer uses them, as real processes."""

from __future__ import annotations

import re

import httpx

from tests.e2e.conftest import Served, start_server, stop_server

KEY_LINE = re.compile(r"^\s{4}(\S{20,})\s*$", re.M)


def test_first_start_prints_the_admin_key_once(served: Served) -> None:
    text = "".join(served.output)
    match = KEY_LINE.search(text)
    assert match, text
    key = match.group(1)
    me = httpx.get(served.url + "/users/me", auth=(key, "")).json()
    assert me["username"] == "admin" and me["isAdmin"] is True
    stop_server(served)
    again = start_server(served.data_dir, served.env)
    try:
        assert not KEY_LINE.search("".join(again.output))
        assert httpx.get(again.url + "/users/me", auth=(key, "")).status_code == 200
    finally:
        stop_server(again)


def test_admin_key_from_the_environment(tmp_path, serve_env) -> None:  # type: ignore[no-untyped-def]
    env = dict(serve_env, CIVICA_ADMIN_API_KEY="automation-key-0123456789abcdef")
    srv = start_server(tmp_path / "d", env)
    try:
        r = httpx.get(srv.url + "/users/me", auth=("automation-key-0123456789abcdef", ""))
        assert r.json()["username"] == "admin"
    finally:
        stop_server(srv)


def test_admin_cli_users_groups_and_keys(served: Served) -> None:
    created = served.admin_cli("create-user", "bob")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert len(lines) == 1, "create-user prints only the key"
    bob_key = lines[0]
    assert httpx.get(served.url + "/users/me", auth=(bob_key, "")).json()["username"] == "bob"

    assert served.admin_cli("create-group", "analysts").returncode == 0
    assert served.admin_cli("add-member", "analysts", "bob").returncode == 0
    groups = httpx.get(served.url + "/users/me", auth=(bob_key, "")).json()["groups"]
    assert [g["name"] for g in groups] == ["analysts"]

    dup = served.admin_cli("create-user", "bob")
    assert dup.returncode == 1 and "already exists" in dup.stderr

    issued = served.admin_cli("issue-key", "bob")
    second = issued.stdout.strip()
    key_id = re.search(r"key id (\d+)", issued.stderr).group(1)  # type: ignore[union-attr]
    assert httpx.get(served.url + "/users/me", auth=(second, "")).status_code == 200
    assert served.admin_cli("revoke-key", key_id).returncode == 0
    # the server trusts a verified key for at most a couple of seconds: refused by 2.5 s after
    import time

    deadline = time.monotonic() + 2.5
    while True:
        status = httpx.get(served.url + "/users/me", auth=(second, "")).status_code
        if status == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 401
    assert httpx.get(served.url + "/users/me", auth=(bob_key, "")).status_code == 200

"""Secrets never leak: a credential's password, API keys and a run's own key are put through
everything that could echo them (creates, reads, lists, updates, bad requests, a run that prints
them and fails on them, a login check, the web UI), then looked for in every API response, every
web page, the server's whole log and every byte of the data folder (the metadata database
included: secrets there are encrypted or hashed).

The one answer allowed to hold a secret is the page that creates an API key, once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Served, serve_env, start_server, stop_server
from tests.workers import wait_run

__all__ = ["serve_env"]

ADMIN = "sweep-admin-key-" + uuid.uuid4().hex
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
HREF = re.compile(r'href="(/ui/[^"#?]*)"')


@pytest.fixture
def served(tmp_path: Path, serve_env: dict[str, str]) -> Iterator[Served]:
    env = dict(serve_env, CIVICA_ADMIN_API_KEY=ADMIN, CIVICA_RATE_LIMIT_PER_MINUTE="0")
    srv = start_server(tmp_path / "data", env)
    yield srv
    stop_server(srv)


class Recorder:
    """Every response body the test received, with what was asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []
        self.allowed: set[int] = set()  # indexes of answers allowed to carry a new key

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        head = "".join(f"{k}: {v}\n" for k, v in response.headers.items()).encode()
        self.seen.append(
            (f"{response.request.method} {response.request.url}", head + response.content)
        )

    def leaks(self, secret: str) -> list[str]:
        return [
            asked
            for i, (asked, body) in enumerate(self.seen)
            if i not in self.allowed and secret.encode() in body
        ]


@pytest.mark.sqlite_only("secrets at rest are looked for in the SQLite file, byte by byte")
def test_no_secret_leaks_anywhere(served: Served, tmp_path: Path) -> None:
    password = "canary-pw-" + uuid.uuid4().hex
    recorder = Recorder()
    hooks = {"response": [recorder]}
    run_key_file = tmp_path / "run-key"
    with httpx.Client(base_url=served.url, auth=(ADMIN, ""), timeout=30, event_hooks=hooks) as api:
        cred = api.post(
            "/credentials",
            json={"name": "vendor", "type": "Custom", "username": "svc", "password": password},
        )
        assert cred.status_code == 200, cred.text
        cid = cred.json()["id"]
        api.get(f"/credentials/{cid}")
        api.get("/credentials")
        api.patch(f"/credentials/{cid}", json={"description": "rotated", "password": password})
        # Bad requests carrying the secret: the answer names the problem, not the value.
        bad = api.post(
            "/credentials", json={"type": "Bogus", "username": "svc", "password": password}
        )
        assert bad.status_code == 400
        long = api.post(
            "/credentials", json={"type": "Custom", "username": "svc", "password": password * 40}
        )
        assert long.status_code in (200, 400)
        api.post(
            "/credentials/authenticate",
            json={"url": "http://127.0.0.1:9/", "remote_host_type": "RemoteHostTypes::Postgres",
                  "username": "svc", "password": password},
        )  # fmt: skip

        # A run that is handed the password and its own key, prints both, then fails on them.
        source = (
            "import os, pathlib, sys\n"
            f"pathlib.Path({str(run_key_file)!r}).write_text(os.environ['CIVIS_API_KEY'])\n"
            "print('password', os.environ['LOGIN_PASSWORD'])\n"
            "print('key', os.environ['CIVIS_API_KEY'])\n"
            "print(os.environ['LOGIN_PASSWORD'], os.environ['CIVIS_API_KEY'], file=sys.stderr)\n"
            "raise SystemExit('failing on ' + os.environ['LOGIN_PASSWORD'])\n"
        )
        script = api.post(
            "/scripts/python3",
            json={"name": "leaky", "source": source,
                  "params": [{"name": "login", "type": "credential_custom", "required": True}],
                  "arguments": {"login": cid}},
        )  # fmt: skip
        assert script.status_code == 201, script.text
        sid = script.json()["id"]
        rid = api.post(f"/scripts/python3/{sid}/runs").json()["id"]
        ended = wait_run(api, f"/jobs/{sid}/runs/{rid}", timeout=120)
        assert ended["state"] == "failed"
        logs = api.get(f"/jobs/{sid}/runs/{rid}/logs").json()
        assert any(line["message"] == "password ********" for line in logs), logs
        for path in (f"/scripts/python3/{sid}", f"/scripts/python3/{sid}/runs",
                     f"/scripts/python3/{sid}/runs/{rid}", f"/jobs/{sid}", "/scripts",
                     f"/jobs/{sid}/runs/{rid}/outputs", f"/scripts/{sid}/history"):  # fmt: skip
            assert api.get(path).status_code == 200, path
        run_key = run_key_file.read_text()
        assert len(run_key) > 20

    # The web UI, signed in with the admin key: a new key is shown once; then every page
    # reachable from the menu and the objects' pages.
    with httpx.Client(base_url=served.url, timeout=30, event_hooks=hooks) as web:
        token = TOKEN.search(web.get("/ui/login").text)
        assert token
        r = web.post("/ui/login", data={"csrf_token": token[1], "api_key": ADMIN})
        assert r.status_code == 303, r.text
        page = web.get("/ui/keys")
        token = TOKEN.search(page.text)
        assert token
        made = web.post("/ui/keys", data={"csrf_token": token[1], "name": "mine", "days": ""})
        assert made.status_code == 200
        recorder.allowed.add(len(recorder.seen) - 1)
        new_keys = set(re.findall(r"[A-Za-z0-9_\-]{32,}", made.text)) - {token[1], ADMIN}
        assert new_keys, "the new key is shown once"
        pages = {"/ui/projects", "/ui/credentials", f"/ui/scripts/{sid}", "/ui/keys"}
        visited: set[str] = set()
        while pages and len(visited) < 80:
            path = pages.pop()
            visited.add(path)
            got = web.get(path)
            assert got.status_code in (200, 303, 404), (path, got.status_code)
            if got.status_code == 200 and "text/html" in got.headers.get("content-type", ""):
                pages |= {p for p in HREF.findall(got.text) if "logout" not in p} - visited
        assert f"/ui/credentials/{cid}" in visited or any("credentials" in p for p in visited)

    secrets = {"credential password": password, "admin key": ADMIN, "run key": run_key}
    secrets |= {f"new key {i}": k for i, k in enumerate(sorted(new_keys))}
    found: dict[str, list[str]] = {}
    for what, secret in secrets.items():
        if leaks := recorder.leaks(secret):
            found[f"{what} in answers"] = leaks[:5]
        if any(secret in line for line in served.output):
            found[f"{what} in the server log"] = [
                line.strip()[:200] for line in served.output if secret in line
            ][:5]
        for path in served.data_dir.rglob("*"):
            if path.is_file() and secret.encode() in path.read_bytes():
                found.setdefault(f"{what} at rest", []).append(str(path))
    assert not found, found
    # The search does find a secret where it is allowed to be: the key page's one answer.
    allowed = [recorder.seen[i][1] for i in recorder.allowed]
    assert all(any(k.encode() in body for body in allowed) for k in new_keys)
    print(
        f"\nswept {len(recorder.seen)} answers, {len(visited)} web pages, "
        f"{len(served.output)} log lines, {len(list(served.data_dir.rglob('*')))} paths at rest"
    )
    assert len(recorder.seen) > 40, "the sweep saw too little to mean anything"

"""Secrets never leave the server: credential passwords, passwords inside database URLs and API
keys appear in no response (body or header) and no server log line, across a sequence of calls
that create, read, list and replace credentials, register databases, and fail in many ways.

The server's loggers (civica, uvicorn and its access log, SQLAlchemy's statements with their
parameters, psycopg) are turned up to their most talkative for the test and captured.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer

PASSWORD = "cred-pw-0f1e2d3c4b5a"
NEW_PASSWORD = "cred-pw-new-9a8b7c6d"
BAD_PASSWORD = "cred-pw-in-error-5e6f7a"
URL_PASSWORD = "url-pw-1a2b3c4d5e"
BAD_KEY = "guessed-key-3c4d5e6f7a8b9c0d"
UNREACHABLE = "127.0.0.1:9"  # loopback, nothing listens: logins fail at once
SERVER_LOGGERS = {
    "civica": logging.DEBUG,
    "uvicorn": logging.DEBUG,
    "uvicorn.error": logging.DEBUG,
    "uvicorn.access": logging.DEBUG,
    "sqlalchemy.engine": logging.INFO,  # statements and their parameters
    "psycopg": logging.DEBUG,
    "fastapi": logging.DEBUG,
    "starlette": logging.DEBUG,
}


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def server_log(live: LiveServer) -> Iterator[_Capture]:
    capture = _Capture()
    # The root logger gets what propagates; uvicorn's own loggers do not propagate.
    hooks = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.access")]
    levels = {name: logging.getLogger(name).level for name in SERVER_LOGGERS}
    for name, level in SERVER_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    for logger in hooks:
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger in hooks:
            logger.removeHandler(capture)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


class _Recorder:
    """Sends requests and checks every answer for the secrets."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets
        self.calls = 0

    def check(self, r: httpx.Response) -> httpx.Response:
        self.calls += 1
        where = f"{r.request.method} {r.request.url.path} -> {r.status_code}"
        for secret in self.secrets:
            assert secret not in r.text, f"{where}: the body shows a secret: {r.text[:500]}"
            for name, value in r.headers.items():
                assert secret not in value, f"{where}: header {name} shows a secret"
        return r


def test_passwords_and_keys_never_appear_in_responses_or_logs(
    live: LiveServer, server_log: _Capture
) -> None:
    _, key = live.new_user("keeper")
    _, other_key = live.new_user("other")
    secrets = [PASSWORD, NEW_PASSWORD, BAD_PASSWORD, URL_PASSWORD, BAD_KEY, key, other_key]
    secrets.append(live.admin_key)
    rec = _Recorder(secrets)
    pg_url = f"postgresql://dbuser:{URL_PASSWORD}@{UNREACHABLE}/db"
    with live.client(key) as c, live.client(other_key) as o, live.client(live.admin_key) as a:
        # create, read, list, replace
        r = rec.check(
            c.post(
                "/credentials",
                json={"type": "Custom", "username": "svc", "password": PASSWORD, "name": "svc"},
            )
        )
        assert r.status_code == 200, r.text
        cid = r.json()["id"]
        assert rec.check(c.get(f"/credentials/{cid}")).status_code == 200
        assert rec.check(c.get("/credentials")).status_code == 200
        assert rec.check(c.get("/credentials", params={"type": "Custom"})).status_code == 200
        r = rec.check(
            c.put(
                f"/credentials/{cid}",
                json={"type": "Custom", "username": "svc", "password": NEW_PASSWORD},
            )
        )
        assert r.status_code == 200, r.text
        assert rec.check(a.get(f"/credentials/{cid}")).status_code == 200
        assert rec.check(a.get("/credentials")).status_code == 200
        assert rec.check(c.get("/users/me")).status_code == 200

        # errors that carry a password
        bad_bodies = [
            {"type": "Nope", "username": "u", "password": BAD_PASSWORD},
            {"type": "Custom", "username": "u", "password": BAD_PASSWORD * 1000},
            {"type": "Custom", "username": "u", "password": [BAD_PASSWORD]},
            {"type": "Custom", "username": "u", "password": {"p": BAD_PASSWORD}},
            {"type": "Custom", "username": "", "password": BAD_PASSWORD},
            {"type": "Custom", "username": "u", "password": BAD_PASSWORD, "pasword": BAD_PASSWORD},
            {"type": "Custom", "username": "u", "password": BAD_PASSWORD + "\x00"},
            {"type": "Custom", "username": "u", "password": BAD_PASSWORD, "user_id": 1},
            {"type": "Custom", "username": "u", "password": BAD_PASSWORD, "remoteHostId": 10**30},
        ]
        for body in bad_bodies:
            r = rec.check(c.post("/credentials", json=body))
            assert 400 <= r.status_code < 500, (body, r.text)
            r = rec.check(c.put(f"/credentials/{cid}", json=body))
            assert 400 <= r.status_code < 500, (body, r.text)
        r = rec.check(
            o.put(
                f"/credentials/{cid}",
                json={"type": "Custom", "username": "u", "password": BAD_PASSWORD},
            )
        )
        assert r.status_code == 404
        r = rec.check(
            c.post(
                "/credentials",
                content=f'{{"type": "Custom", "password": "{BAD_PASSWORD}", '.encode(),
                headers={"content-type": "application/json"},
            )
        )
        assert r.status_code == 400

        # logins that fail, with the password in the body and in the URL
        for url in (pg_url, f"jdbc:{pg_url}", f"postgresql://dbuser:{URL_PASSWORD}@[::1/db"):
            r = rec.check(
                c.post(
                    "/credentials/authenticate",
                    json={
                        "url": url,
                        "remoteHostType": "RemoteHostTypes::Postgres",
                        "username": "dbuser",
                        "password": BAD_PASSWORD,
                    },
                )
            )
            assert r.status_code == 400, r.text

        # a database registered with a password in its URL, and reached with a credential
        r = rec.check(
            a.post(
                "/remote_hosts",
                json={"name": "pg", "url": pg_url, "type": "RemoteHostTypes::Postgres"},
            )
        )
        assert r.status_code == 200, r.text
        db = r.json()["id"]
        r = rec.check(
            c.post(
                "/credentials",
                json={
                    "type": "Database",
                    "username": "dbuser",
                    "password": PASSWORD,
                    "remoteHostId": db,
                },
            )
        )
        assert r.status_code == 200, r.text
        db_cred = r.json()["id"]
        for path in ("/remote_hosts", f"/remote_hosts/{db}", "/databases", f"/databases/{db}"):
            assert rec.check(c.get(path)).status_code == 200
        r = rec.check(c.get(f"/databases/{db}/schemas"))
        assert r.status_code == 400, r.text
        r = rec.check(c.get(f"/databases/{db}/schemas", params={"credential_id": db_cred}))
        assert r.status_code == 400, r.text
        r = rec.check(c.get("/credentials", params={"remote_host_id": db}))
        assert r.status_code == 200

        # keys that are wrong, in every place a key can be sent
        basic = base64.b64encode(f"{BAD_KEY}:".encode()).decode()
        for header in (f"Bearer {BAD_KEY}", f"Basic {basic}", f"Basic {BAD_KEY}", BAD_KEY):
            r = rec.check(httpx.get(f"{live.url}/credentials", headers={"Authorization": header}))
            assert r.status_code == 401

    # The capture saw the server at work, and no line of it holds a secret.
    text = "\n".join(server_log.lines)
    assert "POST /credentials" in text, "the access log was not captured"
    assert "INSERT INTO credentials" in text, "SQL statements were not captured"
    for secret in secrets:
        leaked = [line[:300] for line in server_log.lines if secret in line]
        assert not leaked, "a secret is in the server log:\n" + "\n".join(leaked)
    assert rec.calls > 40

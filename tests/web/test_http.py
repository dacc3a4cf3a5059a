"""The web UI over plain HTTP (no browser): where it lives, its cookie, CSRF, redirects, secrets."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from civica.cli import main
from civica.db.models import AuditEventRow
from civica.execution.worker import Worker
from civica.platform import Platform
from civica.security import verify_password
from civica.services import users
from civica.settings import Settings
from tests.conftest import LiveServer
from tests.web.conftest import PASSWORD, person
from tests.workers import settings, worker

__all__ = ["settings", "worker"]

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in_client(live: LiveServer, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=live.url, timeout=30)
    token = TOKEN.search(client.get("/ui/login").text)
    assert token
    r = client.post(
        "/ui/login",
        data={"csrf_token": token[1], "username": username, "password": PASSWORD},
    )
    assert r.status_code == 303, r.text
    page = client.get("/ui/projects")
    assert page.status_code == 200
    found = TOKEN.search(page.text)
    assert found
    return client, found[1]


def test_pages_live_under_ui_outside_the_api_spec(live: LiveServer) -> None:
    with live.client(live.admin_key) as api:
        spec = api.get("/endpoints").json()
    assert not [p for p in spec["paths"] if p == "/" or p.startswith("/ui")]
    with httpx.Client(base_url=live.url) as anon:
        r = anon.get("/")
        assert (r.status_code, r.headers["location"]) == (303, "/ui/projects")
        r = anon.get("/ui/scripts/7?x=1")
        assert r.status_code == 303
        assert r.headers["location"] == "/ui/login?next=%2Fui%2Fscripts%2F7%3Fx%3D1"
        assert anon.get("/ui/static/vendor/htmx.min.js").status_code == 200
        r = anon.get("/ui/no/such/page")
        assert r.status_code == 303  # signing in comes first, even for unknown pages
        # The API is untouched: still JSON and 401 without a key.
        r = anon.get("/projects")
        assert r.status_code == 401
        assert "errorDescription" in r.json()


def test_session_cookie_flags_and_no_open_redirect(live: LiveServer) -> None:
    username, _ = person(live)
    client = httpx.Client(base_url=live.url)
    token = TOKEN.search(client.get("/ui/login").text)
    assert token
    r = client.post(
        "/ui/login",
        data={
            "csrf_token": token[1],
            "username": username,
            "password": PASSWORD,
            "next": "//evil.example/steal",
        },
    )
    assert (r.status_code, r.headers["location"]) == (303, "/ui/projects")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # plain HTTP here
    client.close()


def test_cookie_is_secure_behind_a_tls_proxy(live: LiveServer) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1 (its default), as behind a local proxy.
    with httpx.Client(base_url=live.url) as client:
        r = client.get("/ui/login", headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 200
        assert "secure" in r.headers["set-cookie"].lower()


def test_a_session_from_a_login_page_token_cannot_be_reused_after_sign_in(
    live: LiveServer,
) -> None:
    username, _ = person(live)
    client = httpx.Client(base_url=live.url)
    before = TOKEN.search(client.get("/ui/login").text)
    assert before
    client.post(
        "/ui/login", data={"csrf_token": before[1], "username": username, "password": PASSWORD}
    )
    r = client.post("/ui/projects", data={"csrf_token": before[1], "name": "x"})
    assert r.status_code == 403
    client.close()


def test_credential_secrets_are_never_shown(live: LiveServer) -> None:
    username, _ = person(live)
    client, token = signed_in_client(live, username)
    secret = "pa55-w0rd-never-shown-anywhere"
    r = client.post(
        "/ui/credentials",
        data={
            "csrf_token": token,
            "type": "Custom",
            "name": "vendor login",
            "username": "svc",
            "password": secret,
        },
    )
    assert r.status_code == 303, r.text
    page = client.get("/ui/credentials").text
    assert "vendor login" in page
    # The change is in the audit trail under the person's name (the secret is not). Rows are
    # written just after each response is sent: poll briefly for it.
    deadline = time.monotonic() + 10
    while True:
        with live.platform.transaction() as session:
            trail = session.execute(
                select(AuditEventRow.username, AuditEventRow.route, AuditEventRow.status).where(
                    AuditEventRow.method == "POST"
                )
            ).all()
        if (username, "/ui/credentials", 303) in [tuple(row) for row in trail]:
            break
        assert time.monotonic() < deadline, trail
        time.sleep(0.05)
    assert not [row for row in trail if row.route == "/credentials"]  # not mistaken for the API
    missing = client.get("/ui/no/such/page")
    assert missing.status_code == 404
    assert "there is no page at /ui/no/such/page" in missing.text
    assert secret not in page
    # Shared with a friend through the shares dialog: they see it, still without the secret.
    friend, _ = person(live, "friend")
    found = re.search(r'<tr id="credential-(\d+)"><td>vendor login', page)
    assert found, page
    r = client.post(
        f"/ui/shares/credential/{found[1]}",
        data={"csrf_token": token, "principal_type": "user", "names": friend},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert friend.title() in r.text
    other, _ = signed_in_client(live, friend)
    theirs = other.get("/ui/credentials").text
    assert "vendor login" in theirs
    assert secret not in theirs
    other.close()
    # A bad form comes back with the values given, but never the password.
    r = client.post(
        "/ui/credentials",
        data={"csrf_token": token, "type": "No such type", "username": "u", "password": secret},
    )
    assert r.status_code == 400
    assert "type" in r.text
    assert secret not in r.text
    client.close()


def test_a_reader_cannot_change_a_shared_script(live: LiveServer) -> None:
    _, owner_key = person(live, "owner")
    reader, _ = person(live, "reader")
    with live.client(owner_key) as api:
        script = api.post("/scripts/python3", json={"name": "s", "source": "print(1)"}).json()
        with live.platform.transaction() as session:
            reader_id = users.get_user_by_name(session=session, username=reader).id
        r = api.put(
            f"/scripts/python3/{script['id']}/shares/users",
            json={"user_ids": [reader_id], "permission_level": "read"},
        )
        assert r.status_code == 200, r.text
    client, token = signed_in_client(live, reader)
    assert client.get(f"/ui/scripts/{script['id']}").status_code == 200
    r = client.post(f"/ui/scripts/{script['id']}", data={"csrf_token": token, "code": "x"})
    assert r.status_code == 403
    r = client.post(f"/ui/scripts/{script['id']}/run", data={"csrf_token": token})
    assert r.status_code == 403
    with live.client(owner_key) as api:
        assert api.get(f"/scripts/python3/{script['id']}").json()["source"] == "print(1)"
        assert api.get(f"/scripts/python3/{script['id']}/runs").json() == []
    client.close()


def test_admin_set_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert main(["admin", "--data-dir", data, "create-user", "ada"]) == 0
    assert main(["admin", "--data-dir", data, "set-password", "ada", "--password", "short"]) == 1
    assert "at least 8" in capsys.readouterr().err
    assert (
        main(["admin", "--data-dir", data, "set-password", "ada", "--password", "long enough"]) == 0
    )
    platform = Platform.open(Settings(data_dir=tmp_path / "data"))
    try:
        with platform.transaction() as session:
            stored = users.get_user_by_name(session=session, username="ada").password_hash
        assert stored is not None
        assert verify_password("long enough", stored)
    finally:
        platform.close()


def test_tables_made_by_a_query_show_on_the_database_pages_and_jobs_list(
    live: LiveServer, worker: Worker
) -> None:
    username, _ = person(live)
    client, token = signed_in_client(live, username)
    databases = client.get("/ui/databases").text
    found = re.search(r'href="/ui/databases/(\d+)">civica<', databases)
    assert found, databases
    database_id = found[1]
    r = client.post(
        "/ui/queries",
        data={
            "csrf_token": token,
            "database": database_id,
            "sql": "CREATE TABLE public.turnout AS SELECT 'north' AS region, 10 AS votes",
        },
    )
    assert r.status_code == 303, r.text
    query_path = r.headers["location"]
    deadline = time.monotonic() + 60
    while 'id="query-result" hx-get' in (panel := client.get(f"{query_path}/result").text):
        assert time.monotonic() < deadline, panel
        time.sleep(0.1)
    assert "state-succeeded" in panel
    page = client.get(f"/ui/databases/{database_id}").text
    assert f'href="/ui/databases/{database_id}/tables/public/turnout"' in page
    table = client.get(f"/ui/databases/{database_id}/tables/public/turnout").text
    assert re.findall(r"<td>\d+</td><td>(\w+)</td>", table) == ["region", "votes"]
    jobs = client.get("/ui/jobs").text
    assert "CREATE TABLE public.turnout" in jobs
    query_id = query_path.rsplit("/", 1)[1]
    r = client.get(f"/ui/jobs/{query_id}")
    assert (r.status_code, r.headers["location"]) == (303, query_path)
    client.close()


def test_sign_in_attempts_are_throttled_per_address(platform: Platform) -> None:
    import threading

    import uvicorn

    from civica.api.app import create_app
    from tests.conftest import _Server, free_port

    app = create_app(platform)
    app.state.sign_in_limiter._now = lambda: 0.0  # a frozen clock: no refill during the test
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            token = TOKEN.search(client.get("/ui/login").text)
            assert token
            form = {"csrf_token": token[1], "username": "nobody", "password": "guess"}
            statuses = [client.post("/ui/login", data=form).status_code for _ in range(11)]
            assert statuses == [401] * 10 + [429]
            assert "Too many sign-in attempts" in client.post("/ui/login", data=form).text
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_tampered_or_expired_session_cookie_is_a_fresh_anonymous_session(
    platform: Platform,
) -> None:
    from civica.web.core import BrowserSession

    signed = BrowserSession(csrf="t0ken", key="k" * 40, key_id=7, expires=time.time() + 60)
    value = signed.encode(platform)
    back = BrowserSession.decode(platform, value)
    assert (back.csrf, back.key, back.key_id, back.dirty) == ("t0ken", "k" * 40, 7, False)
    tampered = value[:-6] + ("A" if value[-6] != "A" else "B") + value[-5:]
    for bad in (tampered, "not-a-token", ""):
        fresh = BrowserSession.decode(platform, bad)
        assert fresh.key is None
        assert fresh.dirty
        assert fresh.csrf != "t0ken"
    signed.expires = time.time() - 1
    assert BrowserSession.decode(platform, signed.encode(platform)).key is None

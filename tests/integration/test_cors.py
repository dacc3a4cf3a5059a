"""Cross-origin API calls (report pages run in an opaque origin): allowed for any origin without
credentials; the cookie-based web UI gets no CORS headers."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer


def test_preflight_and_calls_from_an_opaque_origin(live: LiveServer, admin: httpx.Client) -> None:
    with live.client() as c:
        r = c.options(
            "/projects",
            headers={
                "Origin": "null",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in r.headers
    r = admin.get("/projects", headers={"Origin": "null"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    assert "X-Pagination-Total-Entries" in r.headers["access-control-expose-headers"]
    # Without a key a cross-origin call is still refused.
    with live.client() as c:
        r = c.get("/projects", headers={"Origin": "https://elsewhere.example"})
    assert r.status_code == 401


def test_the_web_ui_sends_no_cors_headers(live: LiveServer) -> None:
    with live.client() as c:
        r = c.get("/ui/login", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers

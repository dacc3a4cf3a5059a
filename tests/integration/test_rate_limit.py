"""Per-key rate limiting: past the limit a 429 with Retry-After; other keys are unaffected; the
public client waits and retries by itself."""

from __future__ import annotations

from pathlib import Path

import civis
import pytest

from civica.api.ratelimit import RateLimiter, TooManyRequests
from civica.settings import Settings
from tests.conftest import ADMIN_KEY, LiveServer

PER_MINUTE = 60  # one a second, bursts of 10


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=metadata_url,
        admin_api_key=ADMIN_KEY,
        auth_cache_seconds=0,
        rate_limit_per_minute=PER_MINUTE,
    )


def exhaust(live: LiveServer, key: str) -> dict[str, str]:
    """Call until refused (a burst is 10; 200 calls would need over three minutes to pass)."""
    with live.client(key) as c:
        for _ in range(200):
            r = c.get("/users/me")
            if r.status_code == 429:
                return {"retry-after": r.headers["retry-after"], **r.json()}
            assert r.status_code == 200, r.text
    raise AssertionError("200 calls at once were never limited")


def test_past_the_limit_a_429_with_retry_after(live: LiveServer) -> None:
    _, key = live.new_user()
    refused = exhaust(live, key)
    assert int(refused["retry-after"]) >= 1
    assert refused["code"] == 429
    assert "retry after" in refused["errorDescription"]
    assert "60 a minute" in refused["errorDescription"]
    # Another key has its own bucket.
    _, other = live.new_user()
    with live.client(other) as c:
        assert c.get("/users/me").status_code == 200


def test_public_client_waits_and_retries(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    _, key = live.new_user()
    client = civis.APIClient(api_key=key)
    project = client.projects.post("limited", "")
    exhaust(live, key)
    assert [p["id"] for p in client.projects.list()] == [project["id"]]


def test_bucket_refills_at_the_rate() -> None:
    limiter = RateLimiter(60)
    now = [1000.0]
    limiter._now = lambda: now[0]  # a controllable clock
    for _ in range(10):
        limiter.check("k")
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("k")
    assert refused.value.retry_after == 1
    now[0] += 1.0
    limiter.check("k")  # one more after a second
    with pytest.raises(TooManyRequests):
        limiter.check("k")
    assert not RateLimiter(0).enabled
    RateLimiter(0).check("k")

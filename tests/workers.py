"""Helpers for tests that execute runs: fast worker settings, a worker bound to the live server,
and waiting for runs to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from civica.execution.worker import Worker
from civica.platform import Platform
from civica.settings import Settings
from tests.conftest import ADMIN_KEY, LiveServer

DONE = ("succeeded", "failed", "cancelled")


def fast_settings(tmp_path: Path, metadata_url: str, **overrides: Any) -> Settings:
    """Settings with short worker intervals so tests stay quick."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": metadata_url,
        "admin_api_key": ADMIN_KEY,
        "auth_cache_seconds": 0,
        "worker_poll_seconds": 0.05,
        "heartbeat_seconds": 0.2,
        "heartbeat_timeout_seconds": 30,
        "default_cancel_timeout": 2,
        "worker_cpus": 8,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str) -> Settings:
    return fast_settings(tmp_path, metadata_url)


@pytest.fixture
def worker(live: LiveServer) -> Iterator[Worker]:
    """One worker running runs for the live server (its runs call back to live.url)."""
    live.platform.extras["api_url"] = live.url
    w = Worker(live.platform)
    w.start()
    yield w
    w.stop(timeout=10)


def wait_run(
    client: httpx.Client, path: str, timeout: float = 30, states: tuple[str, ...] = DONE
) -> dict[str, Any]:
    """Poll `GET path` (a run) until its state is one of `states`."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(path)
        assert r.status_code == 200, r.text
        run: dict[str, Any] = r.json()
        if run["state"] in states:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run still {run['state']} after {timeout}s: {run}")
        time.sleep(0.05)


def wait_state(platform: Platform, run_id: int, timeout: float = 30) -> Any:
    """Poll the store until run `run_id` has ended; returns the row."""
    from civica.db.models import RunRow

    deadline = time.monotonic() + timeout
    while True:
        with platform.transaction() as session:
            run = session.get(RunRow, run_id)
            assert run is not None
            if run.state in DONE:
                return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run.state} after {timeout}s")
        time.sleep(0.05)


@contextmanager
def serving(platform: Platform, lifespan: str = "on") -> Iterator[str]:
    """The app on a free port with its lifespan (so its in-process workers) running."""
    import threading

    import uvicorn

    from tests.conftest import _Server, app_for, free_port, keep_swagger

    port = free_port()
    app = app_for(platform)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        keep_swagger(app)

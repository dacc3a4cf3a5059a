"""Browser tests: real headless Chromium (Debian's /usr/bin/chromium, installed by
scripts/system-deps.sh) driven by Playwright against the real server on a free port.

Screenshots of the main pages are kept under test-artifacts/web/ (or $CIVICA_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from civica.services import users
from tests.conftest import LiveServer

CHROMIUM = os.environ.get("CIVICA_TEST_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def _missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return (
            f"browser tests skipped: no Chromium at {CHROMIUM} (run scripts/system-deps.sh, or "
            "set CIVICA_TEST_CHROMIUM to a Chromium binary)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests skipped: playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, for one module at a time: Playwright's sync API runs an event loop in
    this thread while it is open, and tests elsewhere start their own (asyncio.run)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """A factory of pages, each in its own browser context (its own cookies)."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def artefacts(request: pytest.FixtureRequest) -> Path:
    """Where this test's screenshots go (kept after the run; git-ignored)."""
    base = Path(os.environ.get("CIVICA_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "web"
    folder = base / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def person(live: LiveServer, prefix: str = "web") -> tuple[str, str]:
    """A new user with a password and a default database credential; returns (username, key)."""
    username = f"{prefix}{uuid.uuid4().hex[:8]}"
    with live.platform.transaction() as session:
        row = users.create_user(
            session=session,
            username=username,
            name=username.title(),
            password=PASSWORD,
            secrets=live.platform.secrets,
        )
        _, key = users.issue_api_key(session=session, user=row)
    return username, key


def sign_in(page: Any, live: LiveServer, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live.url}/")
    page.wait_for_url(re.compile(r"/ui/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/projects$"))

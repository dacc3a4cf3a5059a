"""A newcomer's day in the browser, permissions as the API enforces them, and CSRF."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from civica.execution.worker import Worker
from tests.conftest import LiveServer
from tests.web.conftest import person, sign_in
from tests.workers import settings, worker

__all__ = ["settings", "worker"]

# Pages call the same services as the API, whose store behaviour the API tests cover on both;
# the browser tests' PostgreSQL variants would only repeat them at 17 s each.
pytestmark = pytest.mark.sqlite_only("the UI layer is store-independent")


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_newcomer_signs_in_writes_runs_queries_uploads_and_shares(
    live: LiveServer, worker: Worker, new_page: Any, artefacts: Path, tmp_path: Path
) -> None:
    username, _ = person(live)
    friend, _ = person(live, "friend")
    page = new_page()
    page.goto(f"{live.url}/")
    shot(page, artefacts, "login")
    sign_in(page, live, username)
    assert page.get_by_test_id("me").inner_text() == username.title()

    # A project.
    page.fill("input[name=name]", "Election analysis")
    page.fill("input[name=description]", "Turnout by county")
    page.click("text=Create project")
    page.wait_for_url(re.compile(r"/ui/projects/\d+$"))
    project_url = page.url
    assert page.locator("h1").first.inner_text() == "Election analysis"

    # A Python script, written in the code editor, with params; created inside the project.
    # It prints a line, then waits for the test to open a gate, so its log is watched live.
    gate = tmp_path / "gate"
    page.click("text=New Python script")
    page.fill("input[name=name]", "hello")
    page.click(".CodeMirror")
    page.keyboard.type(
        "import os, pathlib, time\n"
        "print('hello from the browser', flush=True)\n"
        "while not pathlib.Path(os.environ['GATE']).exists(): time.sleep(0.05)\n"
        "print(6 * 7, os.environ['WHO'])"
    )
    for name, default in (("WHO", "world"), ("GATE", str(gate))):
        page.click("text=Add a param")
        page.locator("input[name=param_name]").last.fill(name)
        page.locator("input[name=param_default]").last.fill(default)
    shot(page, artefacts, "script-new")
    page.click("text=Create script")
    page.wait_for_url(re.compile(r"/ui/scripts/\d+$"))
    script_url = page.url
    assert page.locator(".CodeMirror").inner_text().count("hello from the browser") == 1

    # Run it with an argument and watch the log arrive while it runs (the page polls).
    page.fill("input[name=arg_WHO]", "Ada")
    page.get_by_test_id("run").click()
    page.wait_for_url(re.compile(r"/ui/jobs/\d+/runs/\d+$"))
    logs = page.get_by_test_id("logs")
    logs.get_by_text("hello from the browser").wait_for()
    page.locator("#run-state").get_by_text("running").wait_for()
    assert "42 Ada" not in logs.inner_text()
    shot(page, artefacts, "run-live")
    gate.touch()
    page.get_by_test_id("log-done").wait_for(state="attached")
    assert "42 Ada" in page.get_by_test_id("logs").inner_text()
    assert page.locator("#run-state").inner_text() == "succeeded"
    shot(page, artefacts, "run")

    # The script page lists the run; the project lists the script.
    page.goto(script_url)
    assert "succeeded" in page.get_by_test_id("runs").inner_text()
    shot(page, artefacts, "script")
    page.goto(project_url)
    assert "hello" in page.get_by_test_id("project-objects").inner_text()
    shot(page, artefacts, "project")

    # A query on the embedded database: rows in a table, and the CSV among the run's outputs.
    page.click("header >> text=Queries")
    page.click(".CodeMirror")
    page.keyboard.type(
        "select 'north' as region, 10 as votes union all select 'south', 32 order by region"
    )
    page.click("text=Run query")
    page.wait_for_url(re.compile(r"/ui/queries/\d+$"))
    result = page.get_by_test_id("result")
    result.wait_for()
    assert result.locator("th").all_inner_texts() == ["region", "votes"]
    assert result.locator("tbody tr").count() == 2
    assert "south" in result.inner_text()
    shot(page, artefacts, "query")
    page.click("button:has-text('Projects')")
    projects_dialog = page.locator("#projects-dialog")
    projects_dialog.locator("select[name=project_id]").select_option(label="Election analysis")
    projects_dialog.locator("button:has-text('Add to project')").click()
    projects_dialog.get_by_role("link", name="Election analysis").wait_for()
    projects_dialog.locator("button:has-text('Close')").click()
    with page.expect_download() as download:
        page.get_by_test_id("csv").click()
    csv_path = tmp_path / "result.csv"
    download.value.save_as(csv_path)
    assert csv_path.read_text().splitlines() == ["region,votes", "north,10", "south,32"]

    # Upload a file with a progress bar, then download it.
    data = tmp_path / "counties.csv"
    data.write_bytes(b"county,turnout\n" + b"".join(b"c%d,%d\n" % (i, i) for i in range(5000)))
    page.goto(project_url)
    page.click("text=Upload a file")
    page.get_by_test_id("file-input").set_input_files(str(data))
    page.click("button:has-text('Upload')")
    page.wait_for_url(re.compile(r"/ui/files/\d+$"))
    assert page.get_by_test_id("file-size").inner_text() == f"{data.stat().st_size} bytes"
    shot(page, artefacts, "file")
    with page.expect_download() as download:
        page.get_by_test_id("download").click()
    got = tmp_path / "got.csv"
    download.value.save_as(got)
    assert got.read_bytes() == data.read_bytes()

    page.goto(project_url)
    contents = page.get_by_test_id("project-objects").inner_text()
    assert "counties.csv" in contents
    assert "select 'north'" in contents

    # Share the script with a friend (read), in the shares dialog.
    page.goto(script_url)
    page.click("button:has-text('Share')")
    dialog = page.locator("#shares-dialog")
    dialog.locator("input[name=names]").fill(friend)
    dialog.locator("button:has-text('Share')").click()
    dialog.get_by_text(friend.title()).wait_for()
    assert "read" in dialog.get_by_test_id("shares").inner_text()
    shot(page, artefacts, "shares")

    # The friend now sees the script (read only), in another browser session.
    other = new_page()
    sign_in(other, live, friend)
    response = other.goto(script_url)
    assert response is not None and response.status == 200
    assert "hello" in other.locator("h1").inner_text()

    # The remaining main pages render.
    page.goto(project_url)
    labels = {"projects": "Projects", "scripts": "Scripts", "jobs": "Jobs", "queries": "Queries"}
    labels |= {"files": "Files", "databases": "Databases", "credentials": "Credentials"}
    for name, label in (labels | {"keys": "API keys"}).items():
        page.click(f"header >> text={label}")
        page.wait_for_url(re.compile(rf"/ui/{name}$"))
        shot(page, artefacts, name)


def test_a_stranger_gets_404_on_another_users_script(
    live: LiveServer, new_page: Any, artefacts: Path
) -> None:
    _, owner_key = person(live, "owner")
    stranger, _ = person(live, "stranger")
    with live.client(owner_key) as api:
        r = api.post("/scripts/python3", json={"name": "private", "source": "print(1)"})
        assert r.status_code == 201, r.text
        script_id = r.json()["id"]
    page = new_page()
    sign_in(page, live, stranger)
    for path in (f"/ui/scripts/{script_id}", f"/ui/jobs/{script_id}/runs/1"):
        response = page.goto(live.url + path)
        assert response is not None and response.status == 404, path
        assert "private" not in page.content()
    shot(page, artefacts, "not-found")
    assert page.get_by_test_id("error").is_visible()


def test_api_key_sign_in_keys_page_and_sign_out(live: LiveServer, new_page: Any) -> None:
    _, key = person(live)
    page = new_page()
    page.goto(f"{live.url}/ui/keys")
    page.wait_for_url(re.compile(r"/ui/login\?next="))
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/keys$"))  # back where the visit started

    # A new key is shown once and works on the API; revoking it stops it.
    page.fill("input[name=name]", "laptop")
    page.click("text=Create API key")
    new_key = page.get_by_test_id("new-key").inner_text().strip()
    with live.client(new_key) as api:
        assert api.get("/users/me").status_code == 200
    page.goto(f"{live.url}/ui/keys")
    assert new_key not in page.content()
    page.locator("tr", has_text="laptop").locator("button:has-text('Revoke')").click()
    page.wait_for_url(re.compile(r"/ui/keys$"))
    with live.client(new_key) as api:
        assert api.get("/users/me").status_code == 401

    # Signing out ends the session for good, even for a copy of its cookie.
    cookies = page.context.cookies()
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r"/ui/login$"))
    replay = new_page()
    replay.context.add_cookies(cookies)
    replay.goto(f"{live.url}/ui/projects")
    assert "/ui/login" in replay.url


def test_wrong_password_and_posts_without_csrf_token_are_refused(
    live: LiveServer, new_page: Any
) -> None:
    username, _ = person(live)
    page = new_page()
    page.goto(f"{live.url}/ui/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "username or password is wrong" in page.get_by_test_id("error").inner_text()

    sign_in(page, live, username)
    # The browser's own cookies, but no token: refused, and nothing is created.
    refused = page.request.post(f"{live.url}/ui/projects", form={"name": "forged"})
    assert refused.status == 403
    assert "security token" in refused.text()
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    wrong = page.request.post(
        f"{live.url}/ui/projects", form={"name": "forged", "csrf_token": token + "x"}
    )
    assert wrong.status == 403
    ok = page.request.post(
        f"{live.url}/ui/projects", form={"name": "real", "csrf_token": token}, max_redirects=0
    )
    assert ok.status == 303
    page.goto(f"{live.url}/ui/projects")
    listed = page.get_by_test_id("projects").inner_text()
    assert "real" in listed
    assert "forged" not in listed

"""The pages of models, reports, imports and script schedules over plain HTTP (no browser),
against the live server with a signed-in session: each renders for its owner, is a 404 page for
a stranger, and its forms work through the same services as the API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from civica.execution.worker import Worker
from tests.conftest import LiveServer
from tests.web.conftest import person, sign_in
from tests.web.test_http import signed_in_client
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]

TABLE_SQL = """
CREATE TABLE public.{name} AS
SELECT i AS id, ((i * 7919) % 1000) / 1000.0 AS x1, (i % 5) * 1.0 AS x2,
  CASE WHEN ((i * 7919) % 1000) / 1000.0 + (i % 5) / 10.0 > 0.7 THEN 1 ELSE 0 END AS won
FROM range({rows}) t(i)
"""


def managed_database(api: httpx.Client) -> int:
    return int(next(d["id"] for d in api.get("/databases").json() if d["managed"]))


def run_sql(api: httpx.Client, sql: str) -> None:
    db = managed_database(api)
    r = api.post("/scripts/sql", json={"name": "setup", "sql": sql, "remote_host_id": db})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = api.post(f"/scripts/sql/{sid}/runs")
    assert r.status_code == 202, r.text
    run = wait_run(api, f"/scripts/sql/{sid}/runs/{r.json()['id']}")
    assert run["state"] == "succeeded", run


def stranger(live: LiveServer) -> httpx.Client:
    name, _ = person(live, "stranger")
    client, _ = signed_in_client(live, name)
    return client


def test_models_pages_create_a_model_build_it_and_show_its_metrics(
    live: LiveServer, worker: Worker
) -> None:
    username, key = person(live, "modeler")
    client, token = signed_in_client(live, username)
    with live.client(key) as api:
        run_sql(api, TABLE_SQL.format(name="deals", rows=120))
        db = managed_database(api)
        types = api.get("/models/types").json()
    forest = next(t["id"] for t in types if t["dvType"] == "binary" and "Forest" in t["algorithm"])

    assert "No models yet." in client.get("/ui/models").text
    form = client.get("/ui/models/new")
    assert form.status_code == 200
    assert f'<option value="{forest}"' in form.text  # the types come from models.list_types
    assert 'href="/ui/models"' in form.text  # in the header

    # Bad input comes back on the form with the service's message and the values kept.
    r = client.post(
        "/ui/models/new",
        data={
            "csrf_token": token,
            "name": "deals model",
            "database": str(db),
            "table": "public.deals",
            "dependent_variable": "won",
            "primary_key": "id",
            "model_type": "99999",
        },
    )
    assert r.status_code == 400, r.text
    assert 'data-testid="error"' in r.text and "99999" in r.text
    assert 'value="deals model"' in r.text

    r = client.post(
        "/ui/models/new",
        data={
            "csrf_token": token,
            "name": "deals model",
            "database": str(db),
            "table": "public.deals",
            "dependent_variable": "won",
            "primary_key": "id",
            "model_type": str(forest),
        },
    )
    assert r.status_code == 303, r.text
    found = re.fullmatch(r"/ui/models/(\d+)", r.headers["location"])
    assert found
    model_id = int(found[1])
    page = client.get(f"/ui/models/{model_id}")
    assert page.status_code == 200
    assert "deals model" in page.text and "public.deals" in page.text
    assert "Not built yet" in page.text
    assert "deals model" in client.get("/ui/models").text

    # Someone else cannot see it, nor build it.
    other = stranger(live)
    assert other.get(f"/ui/models/{model_id}").status_code == 404
    other_token = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/ui/models").text)
    assert other_token
    r = other.post(f"/ui/models/{model_id}/builds", data={"csrf_token": other_token[1]})
    assert r.status_code == 404
    assert "deals model" not in other.get("/ui/models").text
    other.close()

    # Build: a run is queued and the browser goes to the run page (live logs).
    r = client.post(f"/ui/models/{model_id}/builds", data={"csrf_token": token})
    assert r.status_code == 303, r.text
    found = re.fullmatch(rf"/ui/jobs/{model_id}/runs/(\d+)", r.headers["location"])
    assert found
    build_id = int(found[1])
    assert client.get(r.headers["location"]).status_code == 200
    with live.client(key) as api:
        done = wait_run(api, f"/models/{model_id}/builds/{build_id}", timeout=120)
    assert done["state"] == "succeeded", done
    page = client.get(f"/ui/models/{model_id}").text
    assert f'href="/ui/jobs/{model_id}/runs/{build_id}"' in page
    assert f"ROC AUC {done['rocAuc']:.3f}" in page
    assert "Accuracy " in page and 'data-testid="confusion"' in page
    client.close()


def test_a_model_that_cannot_be_built_says_why_on_its_page(live: LiveServer) -> None:
    username, key = person(live, "modeler")
    client, token = signed_in_client(live, username)
    with live.client(key) as api:
        model: dict[str, Any] = api.post("/models", json={"model_name": "half done"}).json()
    r = client.post(f"/ui/models/{model['id']}/builds", data={"csrf_token": token})
    assert r.status_code == 400
    assert "cannot be built without" in r.text
    client.close()


def test_reports_pages_create_from_html_and_show_it_in_a_sandboxed_frame(
    live: LiveServer,
) -> None:
    username, _ = person(live, "reporter")
    client, token = signed_in_client(live, username)
    assert "No reports yet." in client.get("/ui/reports").text
    form = client.get("/ui/reports/new")
    assert form.status_code == 200 and 'href="/ui/reports"' in form.text

    r = client.post(
        "/ui/reports/new", data={"csrf_token": token, "name": "empty", "source": "code"}
    )
    assert r.status_code == 400 and "write the report" in r.text

    html = "<h1>Quarterly turnout</h1><p>up 4%</p>"
    r = client.post(
        "/ui/reports/new",
        data={"csrf_token": token, "name": "turnout", "source": "code", "code_body": html},
    )
    assert r.status_code == 303, r.text
    found = re.fullmatch(r"/ui/reports/(\d+)", r.headers["location"])
    assert found
    report_id = int(found[1])
    page = client.get(f"/ui/reports/{report_id}")
    assert page.status_code == 200
    frame = re.search(r'<iframe[^>]*sandbox="allow-scripts"[^>]*src="([^"]+)"', page.text)
    assert frame, page.text
    src = frame[1].replace("&amp;", "&")
    assert "/report-content/" in src
    with httpx.Client(timeout=30) as anon:  # the signed URL needs no key or cookie
        content = anon.get(src)
    assert content.status_code == 200 and "Quarterly turnout" in content.text
    assert f'hx-get="/ui/shares/report/{report_id}"' in page.text  # the shares dialog
    assert "turnout" in client.get("/ui/reports").text

    other = stranger(live)
    assert other.get(f"/ui/reports/{report_id}").status_code == 404
    assert "turnout" not in other.get("/ui/reports").text
    other.close()
    client.close()


def test_a_report_from_a_script_links_to_it_and_refuses_unknown_scripts(
    live: LiveServer,
) -> None:
    username, key = person(live, "reporter")
    client, token = signed_in_client(live, username)
    with live.client(key) as api:
        r = api.post("/scripts/python3", json={"name": "chart maker", "source": "print(1)"})
        assert r.status_code == 201, r.text
        script_id = r.json()["id"]
    r = client.post(
        "/ui/reports/new",
        data={"csrf_token": token, "name": "nope", "source": "script", "script_id": "987654"},
    )
    assert r.status_code == 400 and "987654" in r.text
    assert 'value="nope"' in r.text
    prefilled = client.get(f"/ui/reports/new?script={script_id}").text
    assert f'name="script_id" inputmode="numeric" value="{script_id}"' in prefilled
    r = client.post(
        "/ui/reports/new",
        data={"csrf_token": token, "name": "charts", "source": "script", "script_id": script_id},
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert f'href="/ui/jobs/{script_id}"' in page and "chart maker" in page
    assert 'data-testid="no-content"' in page  # never run: nothing to frame yet
    client.close()


def test_imports_pages_list_show_and_run_an_import(live: LiveServer) -> None:
    username, key = person(live, "importer")
    client, token = signed_in_client(live, username)
    assert "No imports yet." in client.get("/ui/imports").text
    with live.client(key) as api:
        db = managed_database(api)
        r = api.post(
            "/imports",
            json={"name": "copy pets", "sync_type": "Dbsync", "is_outbound": True,
                  "source": {"remote_host_id": db}, "destination": {"remote_host_id": db}},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        import_id = r.json()["id"]
    listing = client.get("/ui/imports").text
    assert f'href="/ui/imports/{import_id}"' in listing and "copy pets" in listing
    page = client.get(f"/ui/imports/{import_id}")
    assert page.status_code == 200 and "Never run." in page.text
    # The service's refusal is shown on the page.
    r = client.post(f"/ui/imports/{import_id}/run", data={"csrf_token": token})
    assert r.status_code == 400 and "has no syncs" in r.text

    with live.client(key) as api:
        r = api.post(
            f"/imports/{import_id}/syncs",
            json={"source": {"path": "public.pets"}, "destination": {"path": "copies.pets"}},
        )
        assert r.status_code == 201, r.text
    r = client.post(f"/ui/imports/{import_id}/run", data={"csrf_token": token})
    assert r.status_code == 303, r.text
    found = re.fullmatch(rf"/ui/jobs/{import_id}/runs/(\d+)", r.headers["location"])
    assert found
    page = client.get(f"/ui/imports/{import_id}")
    assert f'href="/ui/jobs/{import_id}/runs/{found[1]}"' in page.text
    assert "public.pets" in page.text and "copies.pets" in page.text
    # The jobs list leads to the import's page.
    r = client.get(f"/ui/jobs/{import_id}")
    assert (r.status_code, r.headers["location"]) == (303, f"/ui/imports/{import_id}")

    other = stranger(live)
    assert other.get(f"/ui/imports/{import_id}").status_code == 404
    assert "copy pets" not in other.get("/ui/imports").text
    other.close()
    client.close()


def test_a_schedule_saved_on_the_script_page_shows_its_next_run(live: LiveServer) -> None:
    username, key = person(live, "scheduler")
    client, token = signed_in_client(live, username)
    with live.client(key) as api:
        r = api.post("/scripts/python3", json={"name": "nightly", "source": "print(1)"})
        assert r.status_code == 201, r.text
        script_id = r.json()["id"]
    page = client.get(f"/ui/scripts/{script_id}").text
    assert 'data-testid="schedule"' in page
    r = client.post(
        f"/ui/scripts/{script_id}/schedule",
        data={"csrf_token": token, "scheduled": "yes", "hours": "25", "minutes": "0"},
    )
    assert r.status_code == 400 and "hours" in r.text and "0 to 23" in r.text
    r = client.post(
        f"/ui/scripts/{script_id}/schedule",
        data={
            "csrf_token": token,
            "scheduled": "yes",
            "days": ["1", "3"],
            "hours": "9, 17",
            "minutes": "30",
            "time_zone": "Europe/Madrid",
        },
    )
    assert r.status_code == 303, r.text
    with live.client(key) as api:
        saved = api.get(f"/scripts/python3/{script_id}").json()
    assert saved["schedule"]["scheduled"] is True
    assert saved["schedule"]["scheduledDays"] == [1, 3]
    assert saved["schedule"]["scheduledHours"] == [9, 17]
    assert saved["schedule"]["scheduledMinutes"] == [30]
    assert saved["timeZone"] == "Europe/Madrid" and saved["nextRunAt"]
    page = client.get(f"/ui/scripts/{script_id}").text
    shown = re.search(r'data-testid="next-run"><time datetime="([^"]+)"', page)
    assert shown, page
    assert shown[1][:16] == saved["nextRunAt"].replace("Z", "+00:00")[:16]
    assert 'name="hours" value="9, 17"' in page
    # Someone who cannot read the script gets a 404, not a schedule.
    other = stranger(live)
    other_token = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/ui/scripts").text)
    assert other_token
    r = other.post(
        f"/ui/scripts/{script_id}/schedule",
        data={"csrf_token": other_token[1], "scheduled": "yes", "hours": "1"},
    )
    assert r.status_code == 404
    other.close()
    client.close()


@pytest.mark.sqlite_only("the UI layer is store-independent")
def test_newcomer_trains_a_model_and_opens_a_report_in_the_browser(
    live: LiveServer, worker: Worker, new_page: Any, artefacts: Path
) -> None:
    username, key = person(live, "newcomer")
    with live.client(key) as api:
        run_sql(api, TABLE_SQL.format(name="voters", rows=120))
        db = managed_database(api)
    page = new_page()
    sign_in(page, live, username)

    # A model, from the header's Models link and its form, then built.
    page.click("header.top >> text=Models")
    page.get_by_test_id("new-model").click()
    page.fill("input[name=name]", "turnout model")
    page.select_option("select[name=database]", str(db))
    page.fill("input[name=table]", "public.voters")
    page.fill("input[name=dependent_variable]", "won")
    page.fill("input[name=primary_key]", "id")
    page.select_option("select[name=model_type]", label="Random Forest (binary)")
    page.click("text=Create model")
    page.wait_for_url(re.compile(r"/ui/models/\d+$"))
    model_url = page.url
    page.get_by_test_id("build").click()
    page.wait_for_url(re.compile(r"/ui/jobs/\d+/runs/\d+$"))
    page.get_by_test_id("log-done").wait_for(state="attached", timeout=120_000)
    assert page.locator("#run-state").inner_text() == "succeeded"
    page.goto(model_url)
    assert "ROC AUC" in page.get_by_test_id("metrics").first.inner_text()
    assert page.get_by_test_id("confusion").count() == 1
    page.screenshot(path=str(artefacts / "model.png"), full_page=True)

    # A report from HTML, shown in its sandboxed frame.
    page.click("header.top >> text=Reports")
    page.get_by_test_id("new-report").click()
    page.fill("input[name=name]", "turnout")
    page.fill(
        "textarea[name=code_body]", "<h1 id=t>Turnout</h1><script>t.textContent += ' ok'</script>"
    )
    page.click("text=Create report")
    page.wait_for_url(re.compile(r"/ui/reports/\d+$"))
    frame = page.frame_locator("iframe[data-testid=report-frame]")
    frame.get_by_text("Turnout ok").wait_for()  # its script ran, in the sandbox
    page.screenshot(path=str(artefacts / "report.png"), full_page=True)

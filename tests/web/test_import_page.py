"""The Imports page loads one of your CSV files into a table: a CSV import, run at once."""

from __future__ import annotations

import re

import httpx
import pytest

from civica.execution.worker import Worker
from tests.conftest import LiveServer
from tests.integration.test_files import new_file
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
RUN_PAGE = re.compile(r"^/ui/jobs/(\d+)/runs/(\d+)$")


@pytest.mark.sqlite_only("the page creates a CSV import through the service the API tests")
def test_load_a_csv_file_into_a_table(live: LiveServer, worker: Worker) -> None:
    _, key = live.new_user("loader")
    with live.client(key) as api:
        file_id = new_file(api, b"id,name\n1,ann\n2,bob\n", "people.csv")
        db = int(next(d["id"] for d in api.get("/databases").json() if d["managed"]))
        web = httpx.Client(base_url=live.url, timeout=30)
        try:
            token = TOKEN.search(web.get("/ui/login").text)
            assert token
            assert (
                web.post("/ui/login", data={"csrf_token": token[1], "api_key": key}).status_code
                == 303
            )
            page = web.get("/ui/imports").text
            assert 'data-testid="csv-import"' in page and "people.csv" in page
            csrf = TOKEN.search(page)
            assert csrf
            form = {"csrf_token": csrf[1], "file_id": str(file_id), "database_id": str(db),
                    "schema_name": "public", "table": "", "header": "1", "delimiter": "comma",
                    "existing": "fail"}  # fmt: skip
            # A bad form comes back with the reason, and what was typed kept.
            bad = web.post("/ui/imports/csv", data=form)
            assert bad.status_code == 400 and 'data-testid="error"' in bad.text
            assert "table" in bad.text.split('data-testid="error">', 1)[1].split("<", 1)[0]
            made = web.post("/ui/imports/csv", data={**form, "table": "people_from_ui"})
            assert made.status_code == 303, made.text
            found = RUN_PAGE.match(made.headers["location"])
            assert found, made.headers["location"]
            job, run = int(found[1]), int(found[2])
            assert web.get(made.headers["location"]).status_code == 200
        finally:
            web.close()
        done = wait_run(api, f"/imports/files/csv/{job}/runs/{run}")
        assert done["state"] == "succeeded", done
        q = api.post(
            "/queries",
            json={"database": db, "sql": "SELECT name FROM public.people_from_ui ORDER BY id",
                  "preview_rows": 10},
        ).json()  # fmt: skip
        result = wait_run(api, f"/queries/{q['id']}", timeout=60)
        assert result["resultRows"] == [["ann"], ["bob"]]

"""Queries over HTTP on the embedded DuckDB: POST runs at once, GET shows the state, the preview
(strings or null, at most preview_rows) or the engine's error; CSV output on request; runs."""

from __future__ import annotations

import gzip
import time
from typing import Any

import httpx

from tests.conftest import LiveServer
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]
DONE = ("succeeded", "failed", "cancelled")


def _db(c: httpx.Client) -> int:
    return int(next(d["id"] for d in c.get("/databases").json() if d["managed"]))


def query(c: httpx.Client, sql: str, preview_rows: int = 10, **extra: Any) -> dict[str, Any]:
    r = c.post(
        "/queries", json={"database": _db(c), "sql": sql, "preview_rows": preview_rows, **extra}
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] in ("queued", "running", "succeeded")
    return wait_query(c, r.json()["id"])


def wait_query(c: httpx.Client, qid: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        q: dict[str, Any] = c.get(f"/queries/{qid}").json()
        assert q["state"] in ("queued", "running", *DONE), q
        if q["state"] in DONE:
            return q
        assert time.monotonic() < deadline, q
        time.sleep(0.05)


def test_preview_is_text_or_null_and_capped(live: LiveServer, worker: object) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        q = query(
            c,
            "SELECT range AS n, range * 1.5 AS f, CASE WHEN range = 1 THEN NULL ELSE 'x' END AS s,"
            " range % 2 = 0 AS even, DATE '2024-01-02' AS d FROM range(500)",
            preview_rows=3,
        )
        assert q["state"] == "succeeded" and q["error"] is None and q["exception"] is None
        assert q["resultColumns"] == ["n", "f", "s", "even", "d"]
        assert q["resultRows"] == [
            ["0", "0.0", "x", "true", "2024-01-02"],
            ["1", "1.5", None, "false", "2024-01-02"],
            ["2", "3.0", "x", "true", "2024-01-02"],
        ]
        assert q["previewRows"] == 3 and q["database"] == _db(c) and q["lastRunId"]
        assert q["author"]["username"] and q["myPermissionLevel"] == "manage"
        # DDL then a query: the preview is the last statement's.
        q = query(c, "CREATE TABLE public.qt AS SELECT 7 AS v; SELECT v FROM qt")
        assert q["resultRows"] == [["7"]]
        q = query(c, "DROP TABLE public.qt")
        assert q["state"] == "succeeded" and q["resultColumns"] == [] and q["resultRows"] == []


def test_sql_errors_and_bad_input(live: LiveServer, worker: object, admin: httpx.Client) -> None:
    q = query(admin, "SELECT * FROM nowhere")
    assert q["state"] == "failed"
    assert "nowhere" in q["error"] and q["exception"] == q["error"]
    run = admin.get(f"/queries/{q['id']}/runs/{q['lastRunId']}").json()
    assert run["state"] == "failed" and run["queryId"] == q["id"] and "nowhere" in run["error"]
    for body, words in [
        ({"database": 9999, "sql": "select 1", "preview_rows": 1}, "database 9999"),
        ({"database": _db(admin), "sql": "select 1", "preview_rows": 101}, "preview_rows"),
        ({"database": _db(admin), "sql": "  ", "preview_rows": 1}, "sql cannot be empty"),
        (
            {"database": _db(admin), "sql": "s", "preview_rows": 1, "compression": "rar"},
            "compression",
        ),
        ({"database": _db(admin), "sql": "s", "preview_rows": 1, "credential": 424242}, "424242"),
    ]:
        r = admin.post("/queries", json=body)
        assert r.status_code in (400, 404), r.text
        assert words in r.json()["errorDescription"], r.text
    assert admin.post("/queries", json={"sql": "select 1"}).status_code == 400


def test_csv_output_when_asked(live: LiveServer, worker: object, admin: httpx.Client) -> None:
    q = query(
        admin,
        "SELECT 1 AS a, 'x' AS b",
        preview_rows=5,
        compression="gzip",
        column_delimiter="pipe",
    )
    assert q["state"] == "succeeded" and q["resultRows"] == [["1", "x"]]
    assert q["compression"] == "gzip" and q["columnDelimiter"] == "pipe"
    outputs = admin.get(f"/jobs/{q['id']}/runs/{q['lastRunId']}/outputs").json()
    assert len(outputs) == 1 and outputs[0]["objectType"] == "File"
    url = admin.get(f"/files/{outputs[0]['objectId']}").json()["fileUrl"]
    assert gzip.decompress(httpx.get(url).content).decode() == "a|b\n1|x\n"
    plain = query(admin, "SELECT 1 AS a")
    assert admin.get(f"/jobs/{plain['id']}/runs/{plain['lastRunId']}/outputs").json() == []


def test_runs_list_put_scripts_and_visibility(live: LiveServer, worker: object) -> None:
    _, key = live.new_user()
    _, other = live.new_user()
    with live.client(key) as c:
        q = query(c, "SELECT 1 AS one")
        r = c.post(f"/queries/{q['id']}/runs")
        assert r.status_code == 202 and r.json()["queryId"] == q["id"]
        second = wait_run(c, f"/queries/{q['id']}/runs/{r.json()['id']}")
        assert second["state"] == "succeeded"
        runs = c.get(f"/queries/{q['id']}/runs").json()
        assert [x["id"] for x in runs] == [second["id"], q["lastRunId"]]
        assert c.get(f"/queries/{q['id']}").json()["lastRunId"] == second["id"]
        assert c.get(f"/jobs/{q['id']}/runs/{second['id']}").json()["state"] == "succeeded"
        hidden = query(c, "SELECT 2", hidden=True)
        listed = [x["id"] for x in c.get("/queries").json()]
        assert q["id"] in listed and hidden["id"] not in listed
        assert hidden["id"] in [
            x["id"] for x in c.get("/queries", params={"hidden": "True"}).json()
        ]
        assert c.get("/queries", params={"database_id": 9999}).json() == []
        sid = c.post(
            "/scripts/sql", json={"name": "s", "sql": "select 1", "remote_host_id": _db(c)}
        ).json()["id"]
        r = c.put(f"/queries/{q['id']}/scripts/{sid}")
        assert r.status_code == 200 and r.json()["scriptId"] == sid
        assert c.put(f"/queries/{q['id']}/scripts/999999").status_code == 404
    with live.client(other) as c:
        assert c.get(f"/queries/{q['id']}").status_code == 404
        assert q["id"] not in [x["id"] for x in c.get("/queries").json()]


def test_cancel_a_running_query(live: LiveServer, worker: object, admin: httpx.Client) -> None:
    r = admin.post(
        "/queries",
        json={
            "database": _db(admin),
            "sql": "SELECT count(*) FROM range(100000000000)",
            "preview_rows": 1,
        },
    )
    q = r.json()
    wait_run(admin, f"/queries/{q['id']}/runs/{q['lastRunId']}", states=("running",))
    r = admin.delete(f"/queries/{q['id']}/runs/{q['lastRunId']}")
    assert r.status_code == 202 and r.json()["state"] == "cancelled"
    assert wait_query(admin, q["id"])["state"] == "cancelled"

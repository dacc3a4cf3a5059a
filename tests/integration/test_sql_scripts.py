"""SQL scripts over HTTP on the embedded DuckDB: create/read/update, runs that export CSV files
as outputs (gzip/zip/none, delimiters, header, multi-file with a manifest), params, errors,
cancellation, shares/projects/archive."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]


def _db(c: httpx.Client) -> int:
    dbs = c.get("/databases").json()
    return int(next(d["id"] for d in dbs if d["managed"]))


def run_sql(c: httpx.Client, sql: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    r = c.post("/scripts/sql", json={"name": "q", "sql": sql, "remote_host_id": _db(c), **extra})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = c.post(f"/scripts/sql/{sid}/runs")
    assert r.status_code == 202, r.text
    run = wait_run(c, f"/scripts/sql/{sid}/runs/{r.json()['id']}")
    return sid, run


def download(path: str) -> bytes:
    r = httpx.get(path)
    assert r.status_code == 200, r.text
    return r.content


def test_create_read_update_and_type(live: LiveServer) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        db = _db(c)
        r = c.post(
            "/scripts/sql",
            json={
                "name": "report",
                "sql": "SELECT {{n}} AS n",
                "remoteHostId": db,
                "params": [{"name": "n", "type": "integer", "default": "3"}],
                "csvSettings": {"compression": "zip", "columnDelimiter": "pipe"},
            },
        )
        assert r.status_code == 201, r.text
        s = r.json()
        assert s["type"] == "JobTypes::SqlRunner" and s["state"] == "idle"
        assert s["codePreview"] == "SELECT 3 AS n" and s["expandedArguments"] == {"n": "3"}
        assert s["csvSettings"]["compression"] == "zip"
        assert s["csvSettings"]["columnDelimiter"] == "pipe"
        assert s["csvSettings"]["includeHeader"] is True
        assert s["links"]["runs"] == f"/scripts/sql/{s['id']}/runs"
        r = c.patch(f"/scripts/sql/{s['id']}", json={"arguments": {"n": 5}})
        assert r.status_code == 200 and r.json()["codePreview"] == "SELECT 5 AS n"
        r = c.put(
            f"/scripts/sql/{s['id']}", json={"name": "r2", "sql": "SELECT 1", "remote_host_id": db}
        )
        assert r.status_code == 200 and r.json()["csvSettings"]["compression"] == "gzip"
        assert c.get(f"/scripts/{s['id']}").json()["sql"] == "SELECT 1"
        assert {"name": "sql"} in c.get("/scripts/types").json()
        assert [x["id"] for x in c.get("/scripts", params={"type": "sql"}).json()] == [s["id"]]


def test_bad_input_is_a_clear_4xx(live: LiveServer, admin: httpx.Client) -> None:
    db = _db(admin)
    cases = [
        ({"name": "x", "sql": "select 1"}, "remote_host_id"),
        ({"name": "x", "sql": "select 1", "remote_host_id": 9999}, "remote_host_id 9999"),
        ({"name": "x", "sql": " ", "remote_host_id": db}, "sql cannot be empty"),
        (
            {"name": "x", "sql": "s", "remote_host_id": db, "csv_settings": {"compression": "7z"}},
            "compression",
        ),
        (
            {
                "name": "x",
                "sql": "s",
                "remote_host_id": db,
                "csv_settings": {"column_delimiter": ";"},
            },
            "column_delimiter",
        ),
    ]
    for body, words in cases:
        r = admin.post("/scripts/sql", json=body)
        assert r.status_code == 400, r.text
        assert words in r.json()["errorDescription"]


def test_run_exports_gzip_csv_with_header(live: LiveServer, worker: object) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        sql = (
            "CREATE TABLE public.pets AS SELECT * FROM (VALUES (1, 'rex', 'a,b'), (2, 'tom', NULL))"
            " AS t(id, name, note); SELECT * FROM pets ORDER BY id"
        )
        sid, run = run_sql(c, sql)
        assert run["state"] == "succeeded", run
        assert run["sqlId"] == sid and len(run["output"]) == 1
        out = run["output"][0]
        assert out["outputName"].endswith(".csv.gz") and out["fileId"]
        text = gzip.decompress(download(out["path"])).decode()
        assert text == 'id,name,note\n1,rex,"a,b"\n2,tom,\n'
        assert c.get(f"/files/{out['fileId']}").json()["fileSize"] > 0
        outputs = c.get(f"/scripts/sql/{sid}/runs/{run['id']}/outputs").json()
        assert outputs[0]["objectType"] == "File" and outputs[0]["objectId"] == out["fileId"]
        listed = c.get(f"/scripts/sql/{sid}/runs").json()
        assert listed[0]["output"][0]["fileId"] == out["fileId"]
        logs = c.get(f"/scripts/sql/{sid}/runs/{run['id']}/logs").json()
        assert any("exported 2 row(s)" in line["message"] for line in logs)
        # The next script (another session) sees the table in public.
        _, again = run_sql(c, "SELECT count(*) AS n FROM public.pets")
        assert gzip.decompress(download(again["output"][0]["path"])).decode() == "n\n2\n"


@pytest.mark.parametrize(
    ("settings_", "check"),
    [
        ({"compression": "none", "column_delimiter": "tab", "include_header": False}, "1\tx\n"),
        ({"compression": "zip", "column_delimiter": "pipe"}, "a|b\n1|x\n"),
        ({"compression": "none", "unquoted": True, "filename_prefix": "mine"}, "a,b\n1,x\n"),
    ],
)
def test_csv_settings(
    live: LiveServer, worker: object, settings_: dict[str, Any], check: str
) -> None:
    with live.client(live.admin_key) as c:
        _, run = run_sql(c, "SELECT 1 AS a, 'x' AS b", csv_settings=settings_)
        assert run["state"] == "succeeded", run
        data = download(run["output"][0]["path"])
        if settings_["compression"] == "zip":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                data = z.read(z.namelist()[0])
        assert data.decode() == check
        if "filename_prefix" in settings_:
            assert run["output"][0]["outputName"] == "mine.csv"


def test_multifile_export_writes_a_manifest(live: LiveServer, worker: object) -> None:
    with live.client(live.admin_key) as c:
        _, run = run_sql(
            c,
            "SELECT range AS n, 'value ' || range AS label FROM range(300000)",
            csv_settings={"force_multifile": True, "max_file_size": 1, "compression": "gzip"},
        )
        assert run["state"] == "succeeded", run
        manifest = json.loads(download(run["output"][0]["path"]))
        assert manifest["header"] == ["n", "label"] and manifest["compression"] == "gzip"
        assert manifest["delimiter"] == "," and manifest["unquoted"] is False
        assert len(manifest["entries"]) >= 2 and len(run["output"]) == len(manifest["entries"]) + 1
        total = 0
        for entry in manifest["entries"]:
            assert set(entry) == {"id", "name", "size", "url", "url_signed"}
            rows = list(
                csv.reader(io.StringIO(gzip.decompress(download(entry["url_signed"])).decode()))
            )
            assert rows[0] == ["n", "label"]
            total += len(rows) - 1
        assert total == 300000


def test_sql_errors_fail_the_run_with_the_engine_message(live: LiveServer, worker: object) -> None:
    with live.client(live.admin_key) as c:
        _, run = run_sql(c, "SELECT * FROM public.no_such_table")
        assert run["state"] == "failed" and "no_such_table" in run["error"]
        assert run["output"] == []
        _, run = run_sql(c, "CREATE TABLE public.t_ok (x int)")
        assert run["state"] == "succeeded" and run["output"] == []


def test_cancel_interrupts_the_statement(live: LiveServer, worker: object) -> None:
    with live.client(live.admin_key) as c:
        r = c.post(
            "/scripts/sql",
            json={
                "name": "slow",
                "sql": "SELECT count(*) FROM range(100000000000) a",
                "remote_host_id": _db(c),
            },
        )
        sid = r.json()["id"]
        run_id = c.post(f"/scripts/sql/{sid}/runs").json()["id"]
        wait_run(c, f"/scripts/sql/{sid}/runs/{run_id}", states=("running",))
        r = c.delete(f"/scripts/sql/{sid}/runs/{run_id}")
        assert r.status_code == 202 and r.json()["state"] == "cancelled"
        run = wait_run(c, f"/scripts/sql/{sid}/runs/{run_id}")
        assert run["state"] == "cancelled"
        # The worker is free again: the next run finishes.
        _, after = run_sql(c, "SELECT 1 AS one")
        assert after["state"] == "succeeded"


def test_shares_projects_archive_are_mounted(live: LiveServer) -> None:
    uid, key = live.new_user()
    with live.client(live.admin_key) as c:
        sid = c.post(
            "/scripts/sql", json={"name": "s", "sql": "select 1", "remote_host_id": _db(c)}
        ).json()["id"]
        r = c.put(
            f"/scripts/sql/{sid}/shares/users", json={"user_ids": [uid], "permission_level": "read"}
        )
        assert r.status_code == 200, r.text
        assert c.put(f"/scripts/sql/{sid}/archive", json={"status": True}).json()["archived"]
        assert c.get(f"/scripts/sql/{sid}/projects").json() == []
    with live.client(key) as c:
        assert c.get(f"/scripts/sql/{sid}").status_code == 200
        assert c.post(f"/scripts/sql/{sid}/runs").status_code == 403

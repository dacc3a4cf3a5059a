"""File imports over HTTP, into a second DuckDB file and (when CIVICA_TEST_POSTGRES_URL is set)
a PostgreSQL database: `POST /imports/files` (upload, then run), batch imports (many files,
delimiters, header, gzip/zip/none), CSV imports with `POST /files/preprocess/csv`, bad rows
against `max_errors`, cancelling, and clear 4xx answers for bad input."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections import OrderedDict
from typing import Any

import httpx
import pytest
import requests

from tests.conftest import LiveServer
from tests.integration.test_imports import _sql, target
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "target", "worker"]

PETS = b'id,name,weight\n1,rex,2.5\n2,,3.0\n3,"tom, jr",4.25\n'


def new_file(c: httpx.Client, content: bytes, name: str = "data.csv") -> int:
    r = c.post("/files", json={"name": name})
    assert r.status_code == 201, r.text
    started = r.json()
    fields = dict(started["uploadFields"])
    form: OrderedDict[str, Any] = OrderedDict(key=fields.pop("key"))
    form.update(fields)
    form["file"] = content
    assert requests.post(started["uploadUrl"], files=form, timeout=30).status_code == 204
    return int(started["id"])


def rows(c: httpx.Client, db: int, sql: str) -> list[list[str | None]]:
    q = _sql(c, db, sql)
    assert q["state"] == "succeeded", q
    return list(q["resultRows"])


def logs(c: httpx.Client, job_id: int, run_id: int) -> list[str]:
    return [line["message"] for line in c.get(f"/jobs/{job_id}/runs/{run_id}/logs").json()]


def test_post_files_upload_then_run(live: LiveServer, worker: object, target: int) -> None:
    with live.client(live.admin_key) as c:
        r = c.post(
            "/imports/files",
            json={"schema": "uploads", "name": "pets", "remote_host_id": target,
                  "credential_id": None},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        started = r.json()
        assert set(started) == {"id", "uploadUri", "runUri", "uploadFields"}
        assert started["runUri"] == f"{live.url}/imports/files/{started['id']}/runs"
        # Running before the upload fails, saying what to do.
        run = c.post(started["runUri"])
        assert run.status_code == 202, run.text
        done = wait_run(c, f"/imports/files/{started['id']}/runs/{run.json()['id']}")
        assert done["state"] == "failed" and "PUT the file to the uploadUri" in done["error"]
        assert httpx.put(started["uploadUri"], content=PETS).status_code in (200, 204)
        run = c.post(started["runUri"])
        done = wait_run(c, f"/imports/files/{started['id']}/runs/{run.json()['id']}")
        assert done["state"] == "succeeded", done
        assert done["importId"] == started["id"]
        got = rows(c, target, "SELECT id, name, weight FROM uploads.pets ORDER BY id")
        assert got == [["1", "rex", "2.5"], ["2", None, "3.0"], ["3", "tom, jr", "4.25"]]
        table = c.get(f"/databases/{target}/schemas/uploads/tables/pets").json()
        assert [col["sqlType"].lower() for col in table["columns"]][:2] == [
            "bigint",
            "varchar",
        ] or (table["columns"][1]["sqlType"].lower() in ("text", "character varying"))
        assert any("comma-delimited file with a header row" in m for m in logs(
            c, started["id"], run.json()["id"]))  # fmt: skip
        # The import is an import like the others: listed, readable, its runs under /imports.
        detail = c.get(f"/imports/{started['id']}").json()
        assert (
            detail["syncType"] == "AutoImport" and detail["destination"]["remoteHostId"] == target
        )
        r = c.put(
            f"/imports/{started['id']}",
            json={"name": "x", "sync_type": "Dbsync", "is_outbound": True},
        )
        assert r.status_code == 400 and "uploaded file" in r.json()["errorDescription"]
        # Again: the table exists and the default is to fail.
        run_id = c.post(f"/imports/{started['id']}/runs").json()["runId"]
        done = wait_run(c, f"/imports/files/{started['id']}/runs/{run_id}")
        assert done["state"] == "failed" and "already exists" in done["error"]


def test_post_files_multipart_form_tab_delimited_without_header(
    live: LiveServer, worker: object, target: int
) -> None:
    with live.client(live.admin_key) as c:
        r = c.post(
            "/imports/files",
            json={"schema": "staging", "name": "scores", "remote_host_id": target,
                  "credential_id": None, "multipart": True, "column_delimiter": "tab",
                  "first_row_is_header": False},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        started = r.json()
        fields = dict(started["uploadFields"])
        form: OrderedDict[str, Any] = OrderedDict(key=fields.pop("key"))
        form.update(fields)
        form["file"] = b"a\t1\nb\t2\n"
        assert requests.post(started["uploadUri"], files=form, timeout=30).status_code == 204
        run = c.post(started["runUri"]).json()
        assert wait_run(c, f"/imports/files/{started['id']}/runs/{run['id']}")["state"] == (
            "succeeded"
        )
        got = rows(c, target, "SELECT column_1, column_2 FROM staging.scores ORDER BY 1")
        assert got == [["a", "1"], ["b", "2"]]


def _zip(content: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("part.csv", content)
    return buf.getvalue()


def test_batches_load_many_files_into_one_table(
    live: LiveServer, worker: object, target: int
) -> None:
    with live.client(live.admin_key) as c:
        assert (
            rows(
                c,
                target,
                "CREATE SCHEMA IF NOT EXISTS staging; "
                "CREATE TABLE staging.events (n INTEGER, label VARCHAR)",
            )
            == []
        )
        parts = [b"1|one\n2|two\n", b"3|three\n", b'4|"fo|ur"\n']
        gz = [new_file(c, gzip.compress(p), f"p{i}.csv.gz") for i, p in enumerate(parts)]
        r = c.post(
            "/imports/batches",
            json={"file_ids": gz, "schema": "staging", "table": "events",
                  "remote_host_id": target, "credential_id": None, "column_delimiter": "pipe"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        batch = r.json()
        assert batch["state"] in ("queued", "running", "succeeded")
        assert (batch["schema"], batch["table"], batch["remoteHostId"]) == (
            "staging", "events", target
        )  # fmt: skip
        first_run = c.get(f"/jobs/{batch['id']}/runs").json()[0]["id"]
        run = wait_run(c, f"/jobs/{batch['id']}/runs/{first_run}")
        assert run["state"] == "succeeded", run["error"]
        got = c.get(f"/imports/batches/{batch['id']}").json()
        assert got["state"] == "succeeded" and got["error"] is None and got["finishedAt"]
        assert rows(c, target, "SELECT n, label FROM staging.events ORDER BY n") == [
            ["1", "one"], ["2", "two"], ["3", "three"], ["4", "fo|ur"]
        ]  # fmt: skip
        # zip archives with a header row, and plain files.
        zipped = new_file(c, _zip(b"n,label\n5,five\n"), "z.zip")
        r = c.post(
            "/imports/batches",
            json={"file_ids": [zipped], "schema": "staging", "table": "events",
                  "remote_host_id": target, "credential_id": None, "compression": "zip",
                  "first_row_is_header": True},
        )  # fmt: skip
        second = r.json()
        plain = new_file(c, b"6,six\n")
        r = c.post(
            "/imports/batches",
            json={"file_ids": [plain], "schema": "staging", "table": "events",
                  "remote_host_id": target, "credential_id": None, "compression": "none"},
        )  # fmt: skip
        third = r.json()
        for b in (second, third):
            run_id = c.get(f"/jobs/{b['id']}/runs").json()[0]["id"]
            assert wait_run(c, f"/jobs/{b['id']}/runs/{run_id}")["state"] == "succeeded"
        assert rows(c, target, "SELECT count(*), max(n) FROM staging.events") == [["6", "6"]]
        listed = c.get("/imports/batches", params={"order": "created_at", "order_dir": "asc"})
        assert [b["id"] for b in listed.json()] == [batch["id"], second["id"], third["id"]]
        # A file that is not what the batch says fails the run and loads nothing.
        r = c.post(
            "/imports/batches",
            json={"file_ids": [plain, gz[0]], "schema": "staging", "table": "events",
                  "remote_host_id": target, "credential_id": None, "compression": "gzip"},
        )  # fmt: skip
        bad = r.json()
        run_id = c.get(f"/jobs/{bad['id']}/runs").json()[0]["id"]
        done = wait_run(c, f"/jobs/{bad['id']}/runs/{run_id}")
        assert done["state"] == "failed" and done["error"]
        assert rows(c, target, "SELECT count(*) FROM staging.events") == [["6"]]


def test_bad_rows_count_against_max_errors_on_duckdb(
    live: LiveServer, worker: object, tmp_path: Any
) -> None:
    with live.client(live.admin_key) as c:
        r = c.post(
            "/remote_hosts",
            json={"name": "dk", "url": f"duckdb:///{tmp_path / 'dk.duckdb'}",
                  "type": "RemoteHostTypes::DuckDB"},
        )  # fmt: skip
        db = int(r.json()["id"])
        assert rows(c, db, "CREATE SCHEMA s; CREATE TABLE s.m (n INTEGER, x DOUBLE)") == []
        content = b"n,x\n1,1.5\n2,oops\n3,2.5\nfour,1\n"
        fid = new_file(c, content)

        def load(max_errors: int) -> tuple[dict[str, Any], list[str]]:
            r = c.post(
                "/imports/files/csv",
                json={"source": {"file_ids": [fid]},
                      "destination": {"schema": "s", "table": "m", "remote_host_id": db},
                      "first_row_is_header": True, "existing_table_rows": "append",
                      "max_errors": max_errors},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            job = r.json()
            run = c.post(f"/imports/files/csv/{job['id']}/runs").json()
            assert run["csvImportId"] == job["id"]
            done = wait_run(c, f"/imports/files/csv/{job['id']}/runs/{run['id']}")
            return done, logs(c, job["id"], run["id"])

        done, _ = load(1)
        assert done["state"] == "failed"
        assert "2 row(s) could not be read, more than max_errors (1)" in done["error"]
        assert "line 3" in done["error"] and "line 5" in done["error"]
        assert rows(c, db, "SELECT count(*) FROM s.m") == [["0"]]
        done, lines = load(2)
        assert done["state"] == "succeeded"
        assert any(m.startswith("Skipped line 3:") for m in lines)
        assert any("Loaded 2 row(s)" in m and "skipped 2 unreadable" in m for m in lines)
        assert rows(c, db, "SELECT n, x FROM s.m ORDER BY n") == [["1", "1.5"], ["3", "2.5"]]


def test_preprocess_then_csv_import(live: LiveServer, worker: object, target: int) -> None:
    with live.client(live.admin_key) as c:
        content = "id;city;when\n1;Zürich;2024-01-02\n2;Köln;2024-03-04\n".encode("cp1252")
        fid = new_file(c, content.replace(b";", b"\t"), "cities.tsv")
        r = c.post(
            "/files/preprocess/csv",
            json={"file_id": fid, "in_place": False, "detect_table_columns": True,
                  "force_character_set_conversion": True},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        pp = r.json()
        assert pp["fileId"] == fid and pp["inPlace"] is False
        run = c.post(f"/jobs/{pp['id']}/runs").json()
        assert wait_run(c, f"/jobs/{pp['id']}/runs/{run['id']}")["state"] == "succeeded"
        outputs = c.get(f"/jobs/{pp['id']}/runs/{run['id']}/outputs").json()
        assert len(outputs) == 1 and outputs[0]["objectType"] == "File"
        cleaned = c.get(f"/files/{outputs[0]['objectId']}").json()
        assert cleaned["id"] != fid
        assert cleaned["detectedInfo"] == {
            "includeHeader": True, "columnDelimiter": "tab", "compression": "none",
            "tableColumns": [{"name": "id", "sqlType": "BIGINT"},
                             {"name": "city", "sqlType": "VARCHAR"},
                             {"name": "when", "sqlType": "DATE"}],
        }  # fmt: skip
        assert httpx.get(cleaned["fileUrl"]).content.decode("utf-8").splitlines()[1] == (
            "1\tZürich\t2024-01-02"
        )
        info = cleaned["detectedInfo"]
        r = c.post(
            "/imports/files/csv",
            json={"source": {"file_ids": [cleaned["id"]]},
                  "destination": {"schema": "geo", "table": "cities", "remote_host_id": target},
                  "first_row_is_header": True, "column_delimiter": info["columnDelimiter"],
                  "compression": info["compression"],
                  "table_columns": [{"name": t["name"], "sql_type": t["sqlType"]}
                                    for t in info["tableColumns"]]},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        imp = r.json()
        assert (
            imp["destination"]["table"] == "cities" and imp["tableColumns"][2]["sqlType"] == "DATE"
        )
        run = c.post(f"/jobs/{imp['id']}/runs").json()
        assert wait_run(c, f"/imports/files/csv/{imp['id']}/runs/{run['id']}")["state"] == (
            "succeeded"
        )
        sql = 'SELECT city, CAST("when" AS VARCHAR) FROM geo.cities ORDER BY id'
        assert rows(c, target, sql) == [
            ["Zürich", "2024-01-02"], ["Köln", "2024-03-04"]
        ]  # fmt: skip
        listed = c.get(f"/imports/files/csv/{imp['id']}/runs").json()
        assert [x["state"] for x in listed] == ["succeeded"]
        # Without force_character_set_conversion a non-UTF-8 file fails, saying why.
        pp = c.post("/files/preprocess/csv", json={"file_id": fid, "in_place": False}).json()
        run = c.post(f"/jobs/{pp['id']}/runs").json()
        done = wait_run(c, f"/jobs/{pp['id']}/runs/{run['id']}")
        assert done["state"] == "failed" and "force_character_set_conversion" in done["error"]


def test_cancel_a_queued_file_import(live: LiveServer, admin: httpx.Client) -> None:
    db = int(next(d["id"] for d in admin.get("/databases").json() if d["managed"]))
    fid = new_file(admin, b"a\n1\n")
    r = admin.post(
        "/imports/batches",
        json={"file_ids": [fid], "schema": "public", "table": "t", "remote_host_id": db,
              "credential_id": None, "compression": "none"},
    )  # fmt: skip
    batch = r.json()
    assert batch["state"] == "queued"
    r = admin.post(f"/imports/{batch['id']}/cancel")
    assert r.status_code == 202 and r.json()["state"] == "cancelled"
    assert admin.get(f"/imports/batches/{batch['id']}").json()["state"] == "cancelled"
    imp = admin.post(
        "/imports/files/csv",
        json={"source": {"file_ids": [fid]}, "first_row_is_header": True,
              "destination": {"schema": "public", "table": "t", "remote_host_id": db}},
    ).json()  # fmt: skip
    run = admin.post(f"/imports/files/csv/{imp['id']}/runs").json()
    r = admin.delete(f"/imports/files/csv/{imp['id']}/runs/{run['id']}")
    assert r.status_code == 202 and r.json()["state"] == "cancelled"


def test_bad_input_is_a_clear_4xx(live: LiveServer, admin: httpx.Client) -> None:
    db = int(next(d["id"] for d in admin.get("/databases").json() if d["managed"]))
    fid = new_file(admin, b"a\n1\n")
    _, other_key = live.new_user()
    base = {"schema": "public", "name": "t", "remote_host_id": db, "credential_id": None}
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/imports/files", {**base, "remote_host_id": 9999}, "remote_host_id 9999"),
        ("/imports/files", {**base, "column_delimiter": ";"}, "column_delimiter"),
        ("/imports/files", {**base, "existing_table_rows": "merge"}, "existing_table_rows"),
        ("/imports/files", {**base, "max_errors": -1}, "max_errors"),
        ("/imports/files", {**base, "name": " "}, "name cannot be empty"),
        ("/imports/batches", {"file_ids": [fid, 999999], "schema": "s", "table": "t",
                              "remote_host_id": db, "credential_id": None}, "file 999999"),
        ("/imports/batches", {"file_ids": [fid], "schema": "s", "table": "t",
                              "remote_host_id": db, "credential_id": None,
                              "compression": "bz2"}, "compression"),
        ("/imports/files/csv", {"source": {"file_ids": [fid]}, "first_row_is_header": True,
                                "destination": {"schema": "s", "table": "t",
                                                "remote_host_id": db, "primary_keys": ["a"]}},
         "upserts"),
        ("/imports/files/csv", {"source": {"file_ids": [fid]}, "first_row_is_header": True,
                                "destination": {"schema": "s", "table": "t", "remote_host_id": db},
                                "table_columns": [{"name": "a", "sql_type": "INT"}, {"name": "b"}]},
         "sql_type"),
        ("/files/preprocess/csv", {"file_id": fid, "column_delimiter": "semicolon"},
         "column_delimiter"),
        ("/files/preprocess/csv", {"file_id": 999999}, "file_id 999999"),
    ]  # fmt: skip
    for path, body, words in cases:
        r = admin.post(path, json=body)
        assert r.status_code == 400 and words in r.json()["errorDescription"], (path, r.text)
    # Another user's file is not theirs to import or preprocess.
    with live.client(other_key) as other:
        r = other.post("/files/preprocess/csv", json={"file_id": fid})
        assert r.status_code == 400 and f"file_id {fid}" in r.json()["errorDescription"]
        r = other.post(
            "/imports/batches",
            json={"file_ids": [fid], "schema": "s", "table": "t", "remote_host_id": db,
                  "credential_id": None},
        )  # fmt: skip
        assert r.status_code == 400, r.text
        batch = admin.post(
            "/imports/batches",
            json={"file_ids": [fid], "schema": "s", "table": "t", "remote_host_id": db,
                  "credential_id": None, "compression": "none"},
        ).json()  # fmt: skip
        assert other.get(f"/imports/batches/{batch['id']}").status_code == 404
        assert other.get("/imports/batches").json() == []
    assert json.dumps(admin.get(f"/imports/batches/{batch['id']}").json())


def test_whitelisted_databases_refuse_imports_from_other_addresses(
    live: LiveServer, admin: httpx.Client, tmp_path: Any
) -> None:
    r = admin.post(
        "/remote_hosts",
        json={"name": "guarded", "url": f"duckdb:///{tmp_path / 'g.duckdb'}",
              "type": "RemoteHostTypes::DuckDB"},
    )  # fmt: skip
    db = int(r.json()["id"])
    fid = new_file(admin, b"a\n1\n")
    csv_body = {
        "source": {"file_ids": [fid]}, "first_row_is_header": True,
        "destination": {"schema": "s", "table": "t", "remote_host_id": db},
    }  # fmt: skip
    before = admin.post("/imports/files/csv", json=csv_body).json()
    dbsync = admin.post(
        "/imports",
        json={"name": "sync", "sync_type": "Dbsync", "is_outbound": True,
              "source": {"remote_host_id": db}, "destination": {"remote_host_id": db}},
    ).json()  # fmt: skip
    admin.post(
        f"/imports/{dbsync['id']}/syncs",
        json={"source": {"path": "s.t"}, "destination": {"path": "s.u"}},
    )
    rule = admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "10.0.0.0/8"})
    assert rule.status_code in (200, 201), rule.text
    refused = [
        admin.post("/imports/files/csv", json=csv_body),
        admin.post(
            "/imports/batches",
            json={
                "file_ids": [fid],
                "schema": "s",
                "table": "t",
                "remote_host_id": db,
                "credential_id": None,
            },
        ),
        admin.post(
            "/imports/files",
            json={"schema": "s", "name": "t", "remote_host_id": db, "credential_id": None},
        ),
        admin.post(f"/imports/files/csv/{before['id']}/runs"),
        admin.post(f"/imports/{dbsync['id']}/runs"),
        admin.post(f"/imports/files/{dbsync['id']}/runs"),
    ]
    for r in refused:
        assert r.status_code == 403, r.text
        assert "whitelisted" in r.json()["errorDescription"]
    assert admin.get(f"/imports/files/csv/{before['id']}/runs").json() == []
    admin.post(f"/databases/{db}/whitelist-ips", json={"subnet_mask": "127.0.0.1"})
    assert admin.post(f"/imports/files/csv/{before['id']}/runs").status_code == 202
    assert admin.post("/imports/files/csv", json=csv_body).status_code == 201


def test_gzip_file_through_preprocess_and_csv_import(
    live: LiveServer, worker: object, target: int
) -> None:
    with live.client(live.admin_key) as c:
        fid = new_file(c, gzip.compress(b"k,v\na,1\nb,2\n"), "kv.csv.gz")
        pp = c.post(
            "/files/preprocess/csv",
            json={"file_id": fid, "in_place": True, "detect_table_columns": True},
        ).json()
        run = c.post(f"/jobs/{pp['id']}/runs").json()
        assert wait_run(c, f"/jobs/{pp['id']}/runs/{run['id']}")["state"] == "succeeded"
        outputs = c.get(f"/jobs/{pp['id']}/runs/{run['id']}/outputs").json()
        assert [o["objectId"] for o in outputs] == [fid]
        info = c.get(f"/files/{fid}").json()["detectedInfo"]
        assert (info["compression"], info["columnDelimiter"], info["includeHeader"]) == (
            "gzip", "comma", True
        )  # fmt: skip
        imp = c.post(
            "/imports/files/csv",
            json={"source": {"file_ids": [fid]}, "first_row_is_header": True,
                  "compression": "gzip",
                  "destination": {"schema": "kv", "table": "pairs", "remote_host_id": target},
                  "table_columns": [{"name": t["name"], "sql_type": t["sqlType"]}
                                    for t in info["tableColumns"]]},
        ).json()  # fmt: skip
        run = c.post(f"/imports/files/csv/{imp['id']}/runs").json()
        assert wait_run(c, f"/imports/files/csv/{imp['id']}/runs/{run['id']}")["state"] == (
            "succeeded"
        )
        assert rows(c, target, "SELECT k, v FROM kv.pairs ORDER BY k") == [["a", "1"], ["b", "2"]]


@pytest.mark.postgres
def test_cancelling_a_running_import_interrupts_its_copy(
    live: LiveServer, worker: object, tmp_path: Any
) -> None:
    """The COPY is made to wait on a lock held by the test, so the run is surely running when
    it is cancelled; the cancel must stop the statement (it leaves pg_stat_activity while the
    lock is still held) and nothing is loaded."""
    import os
    import time
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    from tests.conftest import PG_ENV

    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} to run the PostgreSQL cancel test")
    name = f"civica_cancel_{uuid.uuid4().hex[:8]}"
    admin_url = make_url(base).set(drivername="postgresql")
    with psycopg.connect(admin_url.render_as_string(False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(False)
    try:
        with psycopg.connect(url, autocommit=True) as setup:
            setup.execute("CREATE TABLE public.locked (n integer)")
        holder = psycopg.connect(url)
        holder.execute("LOCK TABLE public.locked IN ACCESS EXCLUSIVE MODE")
        with live.client(live.admin_key) as c:
            db = c.post(
                "/remote_hosts",
                json={"name": "pgc", "url": url, "type": "RemoteHostTypes::Postgres"},
            ).json()["id"]
            fid = new_file(c, b"n\n1\n2\n")
            imp = c.post(
                "/imports/files/csv",
                json={"source": {"file_ids": [fid]}, "first_row_is_header": True,
                      "existing_table_rows": "append",
                      "destination": {"schema": "public", "table": "locked",
                                      "remote_host_id": db}},
            ).json()  # fmt: skip
            run = c.post(f"/imports/files/csv/{imp['id']}/runs").json()
            path = f"/imports/files/csv/{imp['id']}/runs/{run['id']}"

            def copies() -> int:
                with psycopg.connect(url, autocommit=True) as probe:
                    found = probe.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                        "AND query LIKE 'COPY%%' AND state = 'active'",
                        [name],
                    ).fetchone()
                    return int(found[0]) if found else 0

            deadline = time.monotonic() + 30
            while copies() == 0:
                assert time.monotonic() < deadline, c.get(path).json()
                time.sleep(0.05)
            r = c.delete(path)
            assert r.status_code == 202 and r.json()["state"] == "cancelled"
            deadline = time.monotonic() + 30
            while copies() > 0:  # the lock is still held: only the cancel can end the COPY
                assert time.monotonic() < deadline, "the COPY was not interrupted"
                time.sleep(0.05)
            holder.rollback()
            holder.close()
            assert c.get(path).json()["state"] == "cancelled"
            with psycopg.connect(url, autocommit=True) as check:
                assert check.execute("SELECT count(*) FROM public.locked").fetchone() == (0,)
    finally:
        with psycopg.connect(admin_url.render_as_string(False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""Imports (Dbsync) over HTTP: a table copied from the embedded DuckDB to another database (a
second DuckDB file; PostgreSQL too when CIVICA_TEST_POSTGRES_URL is set), existing-table
policies, runs under /imports/files, and the public client's transfer_table."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import civis
import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_ENV, LiveServer
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, live: LiveServer, tmp_path: Path) -> Iterator[int]:
    """The id of a second database, registered as a remote host."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'target.duckdb'}"
        kind = "RemoteHostTypes::DuckDB"
        name = None
    else:
        base = os.environ.get(PG_ENV)
        if not base:
            pytest.skip(f"PostgreSQL warehouse variant skipped: set {PG_ENV} to run it")
        name = f"civica_imp_{uuid.uuid4().hex[:10]}"
        admin_url = make_url(base).set(drivername="postgresql+psycopg")
        eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.set(database=name, drivername="postgresql").render_as_string(False)
        kind = "RemoteHostTypes::Postgres"
    with live.client(live.admin_key) as c:
        r = c.post("/remote_hosts", json={"name": "target", "url": url, "type": kind})
        assert r.status_code == 200, r.text
        yield int(r.json()["id"])
    if name is not None:
        with eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


def _embedded(c: httpx.Client) -> int:
    return int(next(d["id"] for d in c.get("/databases").json() if d["managed"]))


def _sql(c: httpx.Client, db: int, sql: str) -> dict[str, Any]:
    r = c.post("/queries", json={"database": db, "sql": sql, "preview_rows": 10})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 30
    while True:
        q: dict[str, Any] = c.get(f"/queries/{r.json()['id']}").json()
        if q["state"] in ("succeeded", "failed", "cancelled"):
            return q
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_dbsync_copies_a_table(live: LiveServer, worker: object, target: int) -> None:
    with live.client(live.admin_key) as c:
        src = _embedded(c)
        _sql(
            c,
            src,
            "CREATE TABLE public.pets AS SELECT * FROM (VALUES (1, 'rex', 2.5), (2, NULL, 3.0))"
            " AS t(id, name, weight)",
        )
        r = c.post(
            "/imports",
            json={"name": "copy", "sync_type": "Dbsync", "is_outbound": True,
                  "source": {"remote_host_id": src}, "destination": {"remote_host_id": target}},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        imp = r.json()
        assert imp["syncType"] == "Dbsync" and imp["destination"]["name"] == "target"
        r = c.post(
            f"/imports/{imp['id']}/syncs",
            json={"source": {"path": "public.pets"}, "destination": {"path": "copies.pets"}},
        )
        assert r.status_code == 201, r.text
        sync_id = r.json()["id"]
        r = c.post(f"/imports/{imp['id']}/runs")
        assert r.status_code == 202 and set(r.json()) == {"runId"}
        run = wait_run(c, f"/imports/files/{imp['id']}/runs/{r.json()['runId']}")
        assert run["state"] == "succeeded", run
        assert run["importId"] == imp["id"]
        q = _sql(c, target, "SELECT id, name, weight FROM copies.pets ORDER BY id")
        assert q["resultRows"] == [["1", "rex", "2.5"], ["2", None, "3.0"]]
        table = c.get(f"/databases/{target}/schemas/copies/tables/pets").json()
        assert [col["name"] for col in table["columns"]] == ["id", "name", "weight"]
        # Again: the table exists, and the default is to fail.
        run_id = c.post(f"/imports/{imp['id']}/runs").json()["runId"]
        run = wait_run(c, f"/imports/files/{imp['id']}/runs/{run_id}")
        assert run["state"] == "failed" and "already exists" in run["error"]
        r = c.put(
            f"/imports/{imp['id']}/syncs/{sync_id}",
            json={"source": {"path": "public.pets"}, "destination": {"path": "copies.pets"},
                  "advanced_options": {"existing_table_rows": "append"}},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        run_id = c.post(f"/imports/{imp['id']}/runs").json()["runId"]
        assert wait_run(c, f"/imports/files/{imp['id']}/runs/{run_id}")["state"] == "succeeded"
        assert _sql(c, target, "SELECT count(*) FROM copies.pets")["resultRows"] == [["4"]]
        runs = c.get(f"/imports/{imp['id']}/runs").json()
        assert [x["state"] for x in runs] == ["succeeded", "failed", "succeeded"]
        assert c.get(f"/imports/{imp['id']}").json()["state"] == "succeeded"
        assert c.post(f"/imports/{imp['id']}/cancel").status_code == 404
        assert c.delete(f"/imports/{imp['id']}/syncs/{sync_id}").status_code == 204
        assert c.get(f"/imports/{imp['id']}").json()["syncs"] == []
        assert c.post(f"/imports/{imp['id']}/runs").status_code == 400


def test_bad_input_is_a_clear_4xx(live: LiveServer, admin: httpx.Client) -> None:
    base = {"name": "x", "sync_type": "Dbsync", "is_outbound": True}
    r = admin.post("/imports", json={**base, "sync_type": "GdocImport"})
    assert r.status_code == 400 and "sync_type" in r.json()["errorDescription"]
    r = admin.post("/imports", json={**base, "source": {"remote_host_id": 9999}})
    assert r.status_code == 400 and "source.remote_host_id" in r.json()["errorDescription"]
    imp = admin.post("/imports", json=base).json()
    for body, words in [
        ({"source": {"path": "a.b.c"}, "destination": {"path": "x.y"}}, "source.path"),
        ({"source": {"path": "a.b"}, "destination": {"path": ""}}, "destination.path"),
        (
            {"source": {"path": "a.b"}, "destination": {"path": "x.y"},
             "advanced_options": {"existing_table_rows": "merge"}},
            "existing_table_rows",
        ),
    ]:  # fmt: skip
        r = admin.post(f"/imports/{imp['id']}/syncs", json=body)
        assert r.status_code == 400 and words in r.json()["errorDescription"], r.text
    assert admin.post(f"/imports/{imp['id']}/runs").status_code == 400
    assert [i["id"] for i in admin.get("/imports").json()] == [imp["id"]]


def test_public_client_transfer_table(
    live: LiveServer, worker: object, target: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    with live.client(live.admin_key) as c:
        _sql(c, _embedded(c), "CREATE TABLE public.t AS SELECT range AS n FROM range(1000)")
    client = civis.APIClient(api_key=live.admin_key)
    fut = civis.io.transfer_table(
        "civica", "target", "public.t", "other.t", client=client, polling_interval=0.1,
        existing_table_rows="drop",
    )  # fmt: skip
    assert fut.result()["state"] == "succeeded"
    with live.client(live.admin_key) as c:
        assert _sql(c, target, "SELECT count(*) FROM other.t")["resultRows"] == [["1000"]]

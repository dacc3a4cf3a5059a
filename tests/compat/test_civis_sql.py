"""The public `civis` client's SQL helpers against civica: query_civis, read_civis_sql,
read_civis, civis_to_csv, civis_to_multifile_csv and export_to_civis_file, on the embedded
DuckDB and (when CIVICA_TEST_POSTGRES_URL is set) on a PostgreSQL database registered through
POST /remote_hosts."""

from __future__ import annotations

import gzip
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import civis
import pandas as pd
import pytest
from civis.base import CivisJobFailure
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from civica.execution.worker import Worker
from tests.conftest import PG_ENV, LiveServer
from tests.workers import settings, worker

__all__ = ["settings", "worker"]
FAST = {"polling_interval": 0.1}


@pytest.fixture(scope="module")
def pg_warehouse() -> Iterator[str]:
    """One fresh PostgreSQL database for this module's PostgreSQL variants (its URL)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL warehouse variant skipped: set {PG_ENV} to run it")
    name = f"civica_sql_{uuid.uuid4().hex[:10]}"
    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name, drivername="postgresql").render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, live: LiveServer) -> str:
    """The name of the database the helpers use: the embedded warehouse, or the PostgreSQL
    database (emptied) registered as a remote host through the API."""
    if request.param == "duckdb":
        return "civica"
    url: str = request.getfixturevalue("pg_warehouse")
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    with live.client(live.admin_key) as c:
        r = c.post(
            "/remote_hosts",
            json={"name": "pg", "url": url, "type": "RemoteHostTypes::Postgres"},
        )
        assert r.status_code == 200, r.text
    return "pg"


@pytest.fixture
def client(live: LiveServer, worker: Worker, monkeypatch: pytest.MonkeyPatch) -> civis.APIClient:
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    _, key = live.new_user()
    return civis.APIClient(api_key=key)


SETUP = (
    "CREATE TABLE public.people AS SELECT * FROM (VALUES (1, 'ann', 'a,b'), (2, 'bob', NULL),"
    " (3, 'cy', 'say \"hi\"')) AS t(id, name, note)"
)


def test_query_civis_then_read_civis_sql_and_read_civis(
    client: civis.APIClient, database: str
) -> None:
    result = civis.io.query_civis(SETUP, database, client=client, **FAST).result()
    assert result["state"] == "succeeded"
    fut = civis.io.query_civis(
        "SELECT name FROM public.people ORDER BY id", database, client=client, **FAST
    )
    assert fut.result()["state"] == "succeeded"
    q = client.queries.get(fut.result()["id"])
    assert q.result_columns == ["name"] and q.result_rows == [["ann"], ["bob"], ["cy"]]
    rows = civis.io.read_civis_sql(
        "SELECT id, name, note FROM public.people ORDER BY id", database, client=client, **FAST
    )
    assert rows == [
        ["id", "name", "note"],
        ["1", "ann", "a,b"],
        ["2", "bob", ""],
        ["3", "cy", 'say "hi"'],
    ]
    df = civis.io.read_civis_sql(
        "SELECT * FROM public.people ORDER BY id",
        database,
        return_as="pandas",
        client=client,
        **FAST,
    )
    assert list(df.columns) == ["id", "name", "note"] and df["name"].tolist() == [
        "ann",
        "bob",
        "cy",
    ]
    assert pd.isna(df["note"][1])
    df = civis.io.read_civis("public.people", database, return_as="pandas", client=client, **FAST)
    assert sorted(df["id"].tolist()) == [1, 2, 3]


def test_query_civis_failure_carries_the_engine_error(
    client: civis.APIClient, database: str
) -> None:
    fut = civis.io.query_civis("SELECT * FROM no_such_table", database, client=client, **FAST)
    with pytest.raises(CivisJobFailure, match="no_such_table"):
        fut.result()


def test_civis_to_csv(client: civis.APIClient, database: str, tmp_path: Path) -> None:
    civis.io.query_civis(SETUP, database, client=client, **FAST).result()
    path = tmp_path / "out.csv"
    fut = civis.io.civis_to_csv(
        str(path), "SELECT * FROM public.people ORDER BY id", database, client=client, **FAST
    )
    fut.result()
    assert path.read_text() == 'id,name,note\n1,ann,"a,b"\n2,bob,\n3,cy,"say ""hi"""\n'
    tsv = tmp_path / "out.tsv"
    civis.io.civis_to_csv(
        str(tsv), "SELECT id, name FROM public.people ORDER BY id", database,
        delimiter="\t", include_header=False, client=client, **FAST,
    ).result()  # fmt: skip
    assert tsv.read_text() == "1\tann\n2\tbob\n3\tcy\n"
    gz = tmp_path / "out.csv.gz"
    civis.io.civis_to_csv(
        str(gz), "SELECT id FROM public.people ORDER BY id", database,
        compression="gzip", include_header=False, client=client, **FAST,
    ).result()  # fmt: skip
    assert gzip.decompress(gz.read_bytes()).decode() == "1\n2\n3\n"


def test_civis_to_multifile_csv(client: civis.APIClient, database: str) -> None:
    civis.io.query_civis(SETUP, database, client=client, **FAST).result()
    manifest = civis.io.civis_to_multifile_csv(
        "SELECT id, name FROM public.people ORDER BY id", database, client=client, **FAST
    )
    assert manifest["header"] == ["id", "name"] and manifest["delimiter"] == "|"
    assert manifest["compression"] == "none" and manifest["unquoted"] is False
    frames = []
    for entry in manifest["entries"]:
        buf = io.BytesIO()
        civis.io.civis_to_file(entry["id"], buf, client=client)
        buf.seek(0)
        frames.append(pd.read_csv(buf, delimiter="|"))
    df = pd.concat(frames)
    assert df["name"].tolist() == ["ann", "bob", "cy"]


def test_export_to_civis_file(client: civis.APIClient, database: str) -> None:
    fut = civis.io.export_to_civis_file("SELECT 1 AS a, 'x' AS b", database, client=client, **FAST)
    output = fut.result()["output"]
    assert output[0]["output_name"].endswith(".csv.gz")
    buf = io.BytesIO()
    civis.io.civis_to_file(output[0]["file_id"], buf, client=client)
    assert gzip.decompress(buf.getvalue()).decode() == "a,b\n1,x\n"

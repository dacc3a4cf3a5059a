"""Import benchmarks against a real `civica serve` (SQLite store, in-process worker):

1. a CSV file of CIVICA_BENCH_IMPORT_MB megabytes (1024 by default) imported into the embedded
   DuckDB through a CSV import run (`POST /imports/files/csv`, then its run until succeeded),
   against DuckDB's own `read_csv` of the same file into a table. Target: at least 0.8 x.
2. when CIVICA_BENCH_POSTGRES_URL (or CIVICA_TEST_POSTGRES_URL) is set, the same file into a
   fresh PostgreSQL database through the API, against psycopg's `COPY ... FROM STDIN` of the same
   bytes. Target: at least 0.8 x.

The file is uploaded first (not timed); each side runs CIVICA_BENCH_IMPORT_ROUNDS times (2 by
default) and its best time counts, so one slow round on a busy machine does not decide the
ratio, which is measured in the same run.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.__main__ import KEY, free_port, process, wait_up

COLUMNS = [
    {"name": "id", "sql_type": "BIGINT"},
    {"name": "grp", "sql_type": "INTEGER"},
    {"name": "val", "sql_type": "DOUBLE PRECISION"},
    {"name": "label", "sql_type": "VARCHAR"},
    {"name": "day", "sql_type": "DATE"},
]
PART = 64 * 1024 * 1024
ROW_BYTES = 52  # about, for the generated rows


def _make_csv(path: Path, megabytes: int) -> int:
    import duckdb

    rows = megabytes * 1024 * 1024 // ROW_BYTES
    conn = duckdb.connect()
    conn.execute(
        "COPY (SELECT range AS id, (range % 1000)::INTEGER AS grp, random() AS val, "
        "'label number ' || range AS label, DATE '2020-01-01' + (range % 2000)::INTEGER AS day "
        f"FROM range({rows})) TO '{path}' (FORMAT CSV, HEADER true)"
    )
    conn.close()
    return rows


def _upload(c: httpx.Client, path: Path) -> int:
    size = path.stat().st_size
    parts = max(1, math.ceil(size / PART))
    r = c.post("/files/multipart", json={"name": path.name, "num_parts": parts})
    r.raise_for_status()
    started = r.json()
    with open(path, "rb") as fh:
        for url in started["uploadUrls"]:
            httpx.put(url, content=fh.read(PART), timeout=600).raise_for_status()
    c.post(f"/files/multipart/{started['id']}/complete").raise_for_status()
    return int(started["id"])


def _import(c: httpx.Client, file_id: int, db: int, table: str) -> float:
    r = c.post(
        "/imports/files/csv",
        json={
            "source": {"file_ids": [file_id]},
            "destination": {"schema": "public", "table": table, "remote_host_id": db},
            "first_row_is_header": True,
            "table_columns": COLUMNS,
            "hidden": True,
        },
    )
    r.raise_for_status()
    job = r.json()["id"]
    t0 = time.perf_counter()
    run = c.post(f"/imports/files/csv/{job}/runs").json()["id"]
    while True:
        state: dict[str, Any] = c.get(f"/imports/files/csv/{job}/runs/{run}").json()
        if state["state"] in ("succeeded", "failed", "cancelled"):
            if state["state"] != "succeeded":
                raise RuntimeError(f"import {state['state']}: {state.get('error')}")
            return time.perf_counter() - t0
        time.sleep(0.02)


def _rounds() -> int:
    return max(1, int(os.environ.get("CIVICA_BENCH_IMPORT_ROUNDS", "2")))


def _duckdb_read_csv(path: Path, folder: Path, table: str) -> float:
    import duckdb

    conn = duckdb.connect(str(folder / "direct.duckdb"))
    try:
        t0 = time.perf_counter()
        conn.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', header = true)")
        return time.perf_counter() - t0
    finally:
        conn.close()


def _pg_database(base: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"civica_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name, drivername="postgresql")
    return url.render_as_string(hide_password=False), admin


def _pg_copy(url: str, path: Path, table: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        cols = ", ".join(f"{c['name']} {c['sql_type']}" for c in COLUMNS)
        t0 = time.perf_counter()
        conn.execute(f"CREATE TABLE {table} ({cols})")
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            open(path, "rb") as fh,
        ):
            while chunk := fh.read(1024 * 1024):
                copy.write(chunk)
        conn.commit()
        return time.perf_counter() - t0


def _line(label: str, ours: float, theirs: float, name: str) -> bool:
    speed = theirs / ours
    print(
        f"{label:<28}{ours:>8.2f} s   {name} {theirs:>7.2f} s   speed {speed:.2f} x "
        "(target >= 0.8)" + ("" if speed >= 0.8 else "   (target missed)")
    )
    return speed >= 0.8


def imports_benchmark() -> bool:
    megabytes = int(os.environ.get("CIVICA_BENCH_IMPORT_MB", "1024"))
    pg_base = os.environ.get("CIVICA_BENCH_POSTGRES_URL") or os.environ.get(
        "CIVICA_TEST_POSTGRES_URL"
    )
    port = free_port()
    ok = True
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        source = folder / "bench.csv"
        rows = _make_csv(source, megabytes)
        size_mb = source.stat().st_size / 1024 / 1024
        pg: tuple[str, Any] | None = _pg_database(pg_base) if pg_base else None
        cmd = [
            sys.executable, "-m", "civica.cli", "serve", "--data-dir", data, "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        env = {"CIVICA_ADMIN_API_KEY": KEY, "CIVICA_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        try:
            with process(cmd, env=env):
                base = f"http://127.0.0.1:{port}"
                wait_up(f"{base}/users/me", auth=(KEY, ""))
                with httpx.Client(base_url=base, auth=(KEY, ""), timeout=600) as c:
                    db = next(d["id"] for d in c.get("/databases").json() if d["managed"])
                    file_id = _upload(c, source)
                    served = min(_import(c, file_id, db, f"bench_{n}") for n in range(_rounds()))
                    pg_served = None
                    if pg is not None:
                        r = c.post(
                            "/remote_hosts",
                            json={"name": "pg", "url": pg[0], "type": "RemoteHostTypes::Postgres"},
                        )
                        r.raise_for_status()
                        pg_db = int(r.json()["id"])
                        pg_served = min(
                            _import(c, file_id, pg_db, f"bench_{n}") for n in range(_rounds())
                        )
            print(f"\nCSV import, {size_mb:,.0f} MB ({rows:,} rows, 5 columns)")
            direct = min(_duckdb_read_csv(source, folder, f"d_{n}") for n in range(_rounds()))
            ok = _line("into DuckDB via the API", served, direct, "read_csv")
            if pg is not None and pg_served is not None:
                copy = min(_pg_copy(pg[0], source, f"d_{n}") for n in range(_rounds()))
                ok = _line("into PostgreSQL via the API", pg_served, copy, "COPY    ") and ok
        finally:
            if pg is not None:
                from sqlalchemy import text

                name = pg[0].rsplit("/", 1)[-1]
                with pg[1].connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                pg[1].dispose()
    return ok


if __name__ == "__main__":
    imports_benchmark()

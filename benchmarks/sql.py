"""SQL benchmarks against a real `civica serve` (SQLite store, in-process worker, embedded DuckDB):

1. a query over a table of CIVICA_BENCH_ROWS rows (10 million by default) through
   `POST /queries` until `GET /queries/{id}` says succeeded, against the same statement in
   DuckDB directly on the same file. Target: at most 1.2 x DuckDB + 50 ms.
2. exporting the whole table to gzip CSV through a SQL script run (until its output file is
   stored), against DuckDB's own `COPY ... TO` with the same options. Target: at least 0.8 x
   DuckDB's speed.

The DuckDB side runs after the server stopped (one process at a time may open the file).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.__main__ import KEY, free_port, process, wait_up

QUERY = (
    "SELECT grp, count(*) AS n, avg(val) AS mean, max(label) AS top "
    "FROM public.bench GROUP BY grp ORDER BY grp"
)
EXPORT = "SELECT * FROM public.bench"
ROUNDS = 5


def _rows() -> int:
    return int(os.environ.get("CIVICA_BENCH_ROWS", "10000000"))


def _wait_query(c: httpx.Client, qid: int) -> dict[str, Any]:
    while True:
        q: dict[str, Any] = c.get(f"/queries/{qid}").json()
        if q["state"] in ("succeeded", "failed", "cancelled"):
            if q["state"] != "succeeded":
                raise RuntimeError(f"query {qid} {q['state']}: {q.get('error')}")
            return q
        time.sleep(0.02)


def _query(c: httpx.Client, db: int, sql: str) -> float:
    t0 = time.perf_counter()
    r = c.post("/queries", json={"database": db, "sql": sql, "preview_rows": 100})
    r.raise_for_status()
    _wait_query(c, r.json()["id"])
    return time.perf_counter() - t0


def _export(c: httpx.Client, db: int) -> float:
    sid = c.post(
        "/scripts/sql",
        json={"name": "bench", "sql": EXPORT, "remote_host_id": db, "hidden": True},
    ).json()["id"]
    t0 = time.perf_counter()
    rid = c.post(f"/scripts/sql/{sid}/runs").json()["id"]
    while True:
        run = c.get(f"/scripts/sql/{sid}/runs/{rid}").json()
        if run["state"] in ("succeeded", "failed", "cancelled"):
            if run["state"] != "succeeded" or not run["output"]:
                raise RuntimeError(f"export {run['state']}: {run.get('error')}")
            return time.perf_counter() - t0
        time.sleep(0.01)


def _duckdb_direct(path: Path, out: Path) -> tuple[float, float]:
    import duckdb

    conn = duckdb.connect(str(path))
    try:
        cur = conn.cursor()
        cur.execute("SET search_path = 'public,main'")
        cur.execute(QUERY).fetchmany(100)  # warm-up, as the served side has
        times = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            cur.execute(QUERY)
            cur.fetchmany(100)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cur.execute(
            f"COPY ({EXPORT}) TO '{out}' (FORMAT CSV, HEADER true, DELIMITER ',', COMPRESSION gzip)"
        )
        copy = time.perf_counter() - t0
    finally:
        conn.close()
    return statistics.median(times), copy


def sql_benchmark() -> bool:
    rows = _rows()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        cmd = [
            sys.executable, "-m", "civica.cli", "serve", "--data-dir", data, "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        env = {"CIVICA_ADMIN_API_KEY": KEY, "CIVICA_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        with process(cmd, env=env):
            base = f"http://127.0.0.1:{port}"
            wait_up(f"{base}/users/me", auth=(KEY, ""))
            with httpx.Client(base_url=base, auth=(KEY, ""), timeout=600) as c:
                db = next(d["id"] for d in c.get("/databases").json() if d["managed"])
                t0 = time.perf_counter()
                _query(
                    c,
                    db,
                    "CREATE TABLE public.bench AS SELECT range AS id, range % 1000 AS grp, "
                    "random() AS val, 'name ' || range AS label FROM range("
                    f"{rows})",
                )
                load = time.perf_counter() - t0
                _query(c, db, QUERY)  # warm-up
                served = statistics.median(_query(c, db, QUERY) for _ in range(ROUNDS))
                exported = _export(c, db)
        direct_query, direct_copy = _duckdb_direct(
            Path(data) / "warehouse.duckdb", Path(data) / "direct.csv.gz"
        )
    limit = 1.2 * direct_query + 0.050
    speed = direct_copy / exported
    print(f"\nSQL on the embedded DuckDB, {rows:,} rows (table made in {load:.1f} s)")
    print(
        f"query via POST /queries   {served * 1000:>9.1f} ms   DuckDB directly "
        f"{direct_query * 1000:>8.1f} ms   limit {limit * 1000:.1f} ms"
        + ("" if served <= limit else "   (target missed)")
    )
    print(
        f"export to gzip CSV        {exported:>9.2f} s    DuckDB COPY TO  {direct_copy:>8.2f} s"
        f"    speed {speed:.2f} x (target >= 0.8)" + ("" if speed >= 0.8 else "   (target missed)")
    )
    return served <= limit and speed >= 0.8


if __name__ == "__main__":
    sql_benchmark()

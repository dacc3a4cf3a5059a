"""Scale-out: API throughput of two `civica serve` processes sharing one PostgreSQL metadata
database, against one process on the same database, measured in the same run.

wrk drives an authenticated single-object GET; with two processes, two wrk instances (half the
connections each) drive one process each at the same time, and their rates are added. Target: two
processes >= 1.6x one (issue 9). On a machine with few cores the load generator competes with the
servers for them, which caps the ratio; the cores are printed beside it.

Needs PostgreSQL: CIVICA_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
from sqlalchemy import create_engine, make_url, text

from benchmarks.__main__ import KEY, Result, ensure_wrk, free_port, process, seed, wait_up, wrk

BASE_URL = os.environ.get(
    "CIVICA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _engine_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def scale_benchmark(args: argparse.Namespace) -> None:
    ensure_wrk()
    name = f"civica_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_engine_url(BASE_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"scale benchmark skipped: PostgreSQL at {BASE_URL} unavailable ({exc})")
        return
    db_url = make_url(BASE_URL).set(database=name).render_as_string(hide_password=False)
    env = {
        "CIVICA_ADMIN_API_KEY": KEY,
        "CIVICA_DATABASE_URL": db_url,
        "CIVICA_RATE_LIMIT_PER_MINUTE": "1000000000",
        "CIVICA_WORKERS": "0",
    }
    try:
        one, two = _measure(args, env)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    ratio = two.rps / one.rps
    print(
        f"\nScale-out on PostgreSQL, GET one project, {args.connections} connections, "
        f"{args.seconds}s, {os.cpu_count()} cores"
    )
    print(f"{'processes':<12}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, r in (("1", one), ("2", two)):
        print(f"{label:<12}{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}")
    mark = "" if ratio >= 1.6 else "  (target 1.6)"
    print(f"two processes / one: {ratio:.2f}{mark}")


def _measure(args: argparse.Namespace, env: dict[str, str]) -> tuple[Result, Result]:
    py = sys.executable
    ports = [free_port(), free_port()]
    with tempfile.TemporaryDirectory() as data, ExitStack() as stack:

        def serve(i: int) -> str:
            cmd = [
                py, "-m", "civica.cli", "serve", "--data-dir", f"{data}/{i}",
                "--port", str(ports[i]), "--log-level", "warning", "--no-access-log",
            ]  # fmt: skip
            stack.enter_context(process(cmd, env=env))
            base = f"http://127.0.0.1:{ports[i]}"
            wait_up(f"{base}/users/me", auth=(KEY, ""))
            return base

        first = serve(0)
        seed(first)
        pid = httpx.get(first + "/projects", auth=(KEY, "")).json()[0]["id"]
        path = f"/projects/{pid}"
        wrk("warm-up", first + path, 2, args.connections, auth=True)
        one = wrk("one process", first + path, args.seconds, args.connections, auth=True)
        second = serve(1)
        wrk("warm-up", second + path, 2, args.connections, auth=True)
        half = max(1, args.connections // 2)
        with ThreadPoolExecutor(2) as pool:
            both = list(
                pool.map(
                    lambda base: wrk("half", base + path, args.seconds, half, auth=True),
                    [first, second],
                )
            )
        two = Result(
            "two processes",
            sum(r.rps for r in both),
            max(r.p50_ms for r in both),
            max(r.p99_ms for r in both),
            sum(r.errors for r in both),
        )
        return one, two

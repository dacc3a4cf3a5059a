"""`make bench`: civica's API against a bare Starlette endpoint measured in the same run.

Both servers run as one uvicorn process each on loopback; wrk (Debian's `wrk`) drives them with
32 connections. Printed: requests/s, p50 and p99 latency, and the ratio to the bare endpoint.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

KEY = "bench-admin-key-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, auth: tuple[str, str] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, auth=auth, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(cmd: list[str], env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(value: str) -> float:
    num, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(num) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(name: str, url: str, seconds: int, connections: int, auth: bool) -> Result:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if auth:
        import base64

        token = base64.b64encode(f"{KEY}:".encode()).decode()
        cmd[1:1] = ["-H", f"Authorization: Basic {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors:.*?timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (int(errs.group(1)) if errs else 0)
    return Result(name, rps, p50, p99, errors)


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("wrk not found; installing Debian's wrk", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-q"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)


def seed(base: str) -> dict[str, str]:
    """Objects to read: one credential (or project) and 50 projects. Returns paths to measure."""
    with httpx.Client(base_url=base, auth=(KEY, ""), timeout=30) as c:
        for i in range(50):
            r = c.post("/projects", json={"name": f"project {i}", "description": "bench"})
            r.raise_for_status()
        paths = {"list of 50 projects": "/projects?limit=50"}
        r = c.post(
            "/credentials", json={"type": "Custom", "username": "bench", "password": "secret"}
        )
        if r.status_code == 200:
            paths["GET one credential"] = f"/credentials/{r.json()['id']}"
        else:
            paths["GET one project"] = f"/projects/{c.get('/projects').json()[0]['id']}"
        return paths


TARGETS = {"GET one credential": 0.35, "GET one project": 0.35, "list of 50 projects": 0.15}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--only",
        choices=(
            *("api", "files", "execution", "sql", "imports", "schedules", "models", "reports"),
            *("ray", "scale", "load"),
        ),
        help="run one group of benchmarks (all by default)",
    )
    args = parser.parse_args()
    if args.only in (None, "api"):
        api_benchmark(args)
    if args.only in (None, "files"):
        # File transfers (benchmarks/files.py; size from CIVICA_BENCH_FILE_MB, 1024 by default).
        from benchmarks import files as file_benchmark

        file_benchmark.main()
    if args.only in (None, "execution"):
        # Run latency, queue throughput, log ingestion (benchmarks/execution.py).
        from benchmarks.execution import execution_benchmark

        execution_benchmark()
    if args.only in (None, "sql"):
        # A query and an export on the embedded DuckDB (benchmarks/sql.py).
        from benchmarks.sql import sql_benchmark

        sql_benchmark()
    if args.only in (None, "imports"):
        # A CSV import against DuckDB's read_csv and PostgreSQL's COPY (benchmarks/imports.py).
        from benchmarks.imports import imports_benchmark

        imports_benchmark()
    if args.only in (None, "schedules"):
        # Start lateness with many schedules, and a chain of 20 jobs (benchmarks/schedules.py).
        from benchmarks.schedules import schedules_benchmark

        schedules_benchmark()
    if args.only in (None, "models"):
        # A model build against the same scikit-learn fit done directly (benchmarks/models.py).
        from benchmarks.models import models_benchmark

        models_benchmark()
    if args.only in (None, "reports"):
        # A snapshot against Chromium alone, and report pages served (benchmarks/reports.py).
        from benchmarks.reports import reports_benchmark

        reports_benchmark()
    if args.only in (None, "ray"):
        # The Ray executor on a two-node cluster against the local executor (benchmarks/ray.py).
        from benchmarks.ray import ray_benchmark

        ray_benchmark()
    if args.only in (None, "scale"):
        # Two API processes on one PostgreSQL against one (benchmarks/scale.py).
        from benchmarks.scale import scale_benchmark

        scale_benchmark(args)
    if args.only in (None, "load"):
        # Many concurrent clients mixing reads, writes, uploads and runs (benchmarks/load.py).
        from benchmarks.load import load_benchmark

        load_benchmark()
    return 0


def api_benchmark(args: argparse.Namespace) -> None:
    """Authenticated single-object GET and a list of 50, against a bare Starlette endpoint."""
    ensure_wrk()
    py = sys.executable
    bare_port, civica_port = free_port(), free_port()
    uvicorn_flags = ["--log-level", "warning", "--no-access-log"]
    results: list[Result] = []
    bare_url = f"http://127.0.0.1:{bare_port}/object"
    bare_cmd = [py, "-m", "uvicorn", "benchmarks.bare:app", "--port", str(bare_port)]
    bare_cmd += uvicorn_flags
    with tempfile.TemporaryDirectory() as data, process(bare_cmd):
        wait_up(bare_url)
        wrk("warm-up", bare_url, 2, args.connections, auth=False)
        # The peer is measured before and after civica (both servers idle when not measured):
        # the machine is shared, and the ratio is to the mean of the two.
        bare_runs = [wrk("bare Starlette", bare_url, args.seconds, args.connections, auth=False)]
        civica = [
            py, "-m", "civica.cli", "serve", "--data-dir", data, "--port", str(civica_port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        # One key drives all the load: lift its rate limit out of the way (the limiter still runs).
        limit = {"CIVICA_RATE_LIMIT_PER_MINUTE": "1000000000"}
        with process(civica, env={"CIVICA_ADMIN_API_KEY": KEY, **limit}):
            base = f"http://127.0.0.1:{civica_port}"
            wait_up(f"{base}/users/me", auth=(KEY, ""))
            paths = seed(base)
            for name, path in sorted(paths.items()):
                wrk("warm-up", base + path, 2, args.connections, auth=True)
                results.append(wrk(name, base + path, args.seconds, args.connections, auth=True))
            bare_runs.append(
                wrk("bare Starlette", bare_url, args.seconds, args.connections, auth=False)
            )
    bare = Result(
        "bare Starlette",
        sum(r.rps for r in bare_runs) / len(bare_runs),
        sum(r.p50_ms for r in bare_runs) / len(bare_runs),
        max(r.p99_ms for r in bare_runs),
        sum(r.errors for r in bare_runs),
    )
    print(f"\nAPI throughput, {args.connections} connections, {args.seconds}s each (SQLite store)")
    print(f"{'endpoint':<24}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'ratio':>8}")
    print(f"{bare.name:<24}{bare.rps:>10.0f}{bare.p50_ms:>9.2f}{bare.p99_ms:>9.2f}{bare.errors:>8}")
    print(f"{'  (before / after)':<24}" + " / ".join(f"{r.rps:.0f}" for r in bare_runs))
    ok = True
    for r in results:
        ratio = r.rps / bare.rps
        target = TARGETS.get(r.name, 0)
        mark = "" if ratio >= target else f"  (target {target})"
        ok = ok and ratio >= target
        print(
            f"{r.name:<24}{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}"
            f"{ratio:>8.2f}{mark}"
        )
    print("all ratio targets met" if ok else "some ratio targets missed")


if __name__ == "__main__":
    sys.exit(main())

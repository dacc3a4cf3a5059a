"""Load: many concurrent clients for minutes against one `civica serve` (SQLite store, local file
store, in-process worker), mixing reads, writes, uploads and runs (issue 11).

Each client has its own user and API key (as a team would), so the per-key rate limit stays at its
default. Printed: requests and errors per operation (an error is any 5xx, transport failure or
timeout; 4xx other than 429 would be a bug in this script and is counted too), p50/p99 latency, and
the server's resident memory at the start and at its peak. Target: zero errors, bounded memory.

    python -m benchmarks --only load          # 200 clients, 300 s
    CIVICA_BENCH_LOAD_CLIENTS=50 CIVICA_BENCH_LOAD_SECONDS=60 python -m benchmarks --only load
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from benchmarks.__main__ import KEY, free_port, wait_up
from benchmarks.execution import _server_pid

CLIENTS = int(os.environ.get("CIVICA_BENCH_LOAD_CLIENTS", "200"))
SECONDS = float(os.environ.get("CIVICA_BENCH_LOAD_SECONDS", "300"))
# What a client does each turn, by weight: mostly reads, as people and dashboards do.
MIX = {"read": 55, "list": 20, "write": 15, "upload": 6, "run": 4}


def _users(data: str, count: int) -> list[str]:
    """One user and key per client, made straight in the store before the server starts."""
    from civica.bootstrap import prepare
    from civica.platform import Platform
    from civica.services import users
    from civica.settings import Settings

    platform = Platform.open(Settings(data_dir=Path(data), admin_api_key=KEY))
    try:
        prepare(platform)
        keys = []
        with platform.transaction() as session:
            for i in range(count):
                user = users.create_user(session=session, username=f"load{i}")
                keys.append(users.issue_api_key(session=session, user=user)[1])
        return keys
    finally:
        platform.close()


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.examples: dict[str, str] = {}

    def record(self, op: str, started: float, ok: bool, detail: str = "") -> None:
        self.latency[op].append(time.perf_counter() - started)
        if not ok:
            self.errors[op] += 1
            self.examples.setdefault(op, detail[:200])


async def _client(base: str, key: str, deadline: float, stats: Stats, seed: int) -> None:
    rng = random.Random(seed)
    ops, weights = list(MIX), list(MIX.values())
    limits = httpx.Limits(max_connections=2)
    async with (
        httpx.AsyncClient(base_url=base, auth=(key, ""), timeout=60, limits=limits) as c,
        httpx.AsyncClient(timeout=60, limits=limits) as bare,
    ):
        mine: list[int] = []
        script: int | None = None

        async def call(op: str, method: str, url: str, **kw: object) -> httpx.Response | None:
            started = time.perf_counter()
            try:
                r = await c.request(method, url, **kw)  # type: ignore[arg-type]
            except httpx.HTTPError as exc:
                stats.record(op, started, False, f"{type(exc).__name__}: {exc}")
                return None
            stats.record(op, started, r.status_code < 400, f"{r.status_code} {r.text}")
            return r

        r = await call("write", "POST", "/projects", json={"name": "mine", "description": ""})
        if r is not None and r.status_code == 200:
            mine.append(r.json()["id"])
        while time.monotonic() < deadline:
            op = rng.choices(ops, weights)[0]
            if op == "read" and mine:
                await call(op, "GET", f"/projects/{rng.choice(mine)}")
            elif op == "list":
                await call(op, "GET", "/projects", params={"limit": 50})
            elif op == "write":
                body = {"name": f"p{rng.randrange(10**6)}", "description": "load"}
                r = await call(op, "POST", "/projects", json=body)
                if r is not None and r.status_code == 200:
                    mine.append(r.json()["id"])
            elif op == "upload":
                r = await call(op, "POST", "/files", json={"name": "load.csv"})
                if r is not None and r.status_code < 400:
                    info = r.json()
                    started = time.perf_counter()
                    files = {k: (None, v) for k, v in info["uploadFields"].items()}
                    files["file"] = ("load.csv", b"a,b\n" + b"1,2\n" * rng.randrange(1, 4000))
                    try:
                        up = await bare.post(info["uploadUrl"], files=files)
                        detail = f"{up.status_code} {up.text}"
                        stats.record("upload body", started, up.status_code < 400, detail)
                    except httpx.HTTPError as exc:
                        stats.record("upload body", started, False, f"{type(exc).__name__}: {exc}")
            elif op == "run":
                if script is None:
                    body = {"name": "load", "source": "print('hello')"}
                    r = await call(op, "POST", "/scripts/python3", json=body)
                    script = r.json()["id"] if r is not None and r.status_code < 400 else None
                else:
                    await call(op, "POST", f"/scripts/python3/{script}/runs")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _drive(base: str, keys: list[str], pid: int | None) -> tuple[Stats, int, int]:
    stats = Stats()
    deadline = time.monotonic() + SECONDS
    start_rss = _rss_kb(pid) if pid else 0
    peak = start_rss

    async def watch() -> None:
        nonlocal peak
        while time.monotonic() < deadline:
            if pid:
                peak = max(peak, _rss_kb(pid))
            await asyncio.sleep(1)

    clients = [_client(base, k, deadline, stats, i) for i, k in enumerate(keys)]
    await asyncio.gather(watch(), *clients)
    return stats, start_rss, peak


def load_benchmark() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        keys = _users(data, CLIENTS)
        cmd = [
            sys.executable, "-m", "civica.cli", "serve", "--data-dir", data, "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        env = {**os.environ, "CIVICA_ADMIN_API_KEY": KEY}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_up(f"{base}/users/me", auth=(KEY, ""))
            started = time.monotonic()
            stats, rss0, peak = asyncio.run(_drive(base, keys, _server_pid(port)))
            took = time.monotonic() - started
        finally:
            proc.terminate()
            proc.wait(30)
    total = sum(len(v) for v in stats.latency.values())
    errors = sum(stats.errors.values())
    print(f"\nLoad: {CLIENTS} clients for {took:.0f} s, {total} requests ({total / took:.0f}/s)")
    print(f"{'operation':<14}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for op, values in sorted(stats.latency.items()):
        print(
            f"{op:<14}{len(values):>10}{stats.errors[op]:>8}"
            f"{statistics.median(values) * 1000:>9.1f}{_pct(values, 0.99):>9.1f}"
        )
    for op, example in stats.examples.items():
        print(f"  first {op} error: {example}")
    print(f"server RSS {rss0 / 1024:.0f} MiB at start, {peak / 1024:.0f} MiB at peak")
    print("zero errors" if errors == 0 else f"{errors} errors (target 0)")

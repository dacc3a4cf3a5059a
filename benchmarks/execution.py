"""Execution benchmarks against a real `civica serve` (SQLite store, in-process worker):

1. one no-op Python run, from `POST .../runs` to `finished_at`, against `python3 -c pass`;
2. 200 no-op runs queued at once, against 200 x interpreter start / cores;
3. a script printing 1,000,000 lines: log lines stored per second and the server's memory.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from typing import Any

import httpx

from benchmarks.__main__ import KEY, free_port, process, wait_up

MILLION = 1_000_000


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def interpreter_start(samples: int = 10) -> float:
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _wait(c: httpx.Client, sid: int, rid: int, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = c.get(f"/scripts/python3/{sid}/runs/{rid}").json()
        if run["state"] in ("succeeded", "failed", "cancelled"):
            return run
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {rid} did not finish: {run}")
        time.sleep(0.01)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _server_pid(port: int) -> int | None:
    """The pid of the process listening on `port` (the civica server), from /proc."""
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True)
        marker = "pid="
        if marker in out.stdout:
            return int(out.stdout.split(marker, 1)[1].split(",", 1)[0])
    except (OSError, ValueError):
        pass
    return None


def execution_benchmark() -> bool:
    """Run the three measurements; print figures and whether this benchmark's targets were met."""
    cores = os.cpu_count() or 1
    start = interpreter_start()
    port = free_port()
    ok = True
    with tempfile.TemporaryDirectory() as data:
        cmd = [
            sys.executable, "-m", "civica.cli", "serve", "--data-dir", data, "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        with process(cmd, env={"CIVICA_ADMIN_API_KEY": KEY, "CIVICA_WORKER_POLL_SECONDS": "0.2"}):
            base = f"http://127.0.0.1:{port}"
            wait_up(f"{base}/users/me", auth=(KEY, ""))
            pid = _server_pid(port)
            with httpx.Client(base_url=base, auth=(KEY, ""), timeout=60) as c:
                noop = c.post("/scripts/python3", json={"name": "noop", "source": "pass"}).json()
                sid = noop["id"]
                _wait(c, sid, c.post(f"/scripts/python3/{sid}/runs").json()["id"])  # warm-up
                latencies = []
                for _ in range(10):
                    rid = c.post(f"/scripts/python3/{sid}/runs").json()["id"]
                    run = _wait(c, sid, rid)
                    latencies.append(_ts(run["finishedAt"]) - _ts(run["createdAt"]))
                one = statistics.median(latencies)

                t0 = time.perf_counter()
                ids = [c.post(f"/scripts/python3/{sid}/runs").json()["id"] for _ in range(200)]
                runs = [_wait(c, sid, rid) for rid in ids]
                batch = max(_ts(r["finishedAt"]) for r in runs) - min(
                    _ts(r["createdAt"]) for r in runs
                )
                wall = time.perf_counter() - t0
                failed = sum(r["state"] != "succeeded" for r in runs)
                ideal = 200 * start / cores

                source = (
                    "import sys\nw = sys.stdout.write\n"
                    f"for i in range({MILLION}):\n    w(f'line {{i}}\\n')\n"
                )
                big = c.post("/scripts/python3", json={"name": "1M lines", "source": source})
                bid = big.json()["id"]
                before = _rss_mb(pid) if pid else 0.0
                peak = before
                done = threading.Event()

                def sample() -> None:
                    nonlocal peak
                    while not done.is_set():
                        peak = max(peak, _rss_mb(pid) if pid else 0.0)
                        time.sleep(0.05)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                rid = c.post(f"/scripts/python3/{bid}/runs").json()["id"]
                run = _wait(c, bid, rid)
                done.set()
                sampler.join()
                ingest = _ts(run["finishedAt"]) - _ts(run["startedAt"])
                logs = c.get(f"/scripts/python3/{bid}/runs/{rid}/logs", params={"limit": 1})
                stored = int(logs.headers["civis-max-id"]) - int(logs.json()[0]["id"]) + 1

    print(f"\nExecution (SQLite store, in-process worker, {cores} cores)")
    print(f"  python -c pass                      {start * 1000:8.1f} ms")
    overhead = one - start
    target1 = overhead < 0.5
    print(
        f"  1 no-op run, POST to finished_at    {one * 1000:8.1f} ms  (overhead "
        f"{overhead * 1000:.0f} ms; target < 500 ms){'' if target1 else '  MISSED'}"
    )
    target2 = failed == 0 and batch <= 2 * ideal + 1
    print(
        f"  200 no-op runs queued at once       {batch:8.2f} s   (ideal 200 x start / cores = "
        f"{ideal:.2f} s; ratio {batch / ideal:.2f}; target <= 2x; wall {wall:.2f} s; "
        f"failed {failed}){'' if target2 else '  MISSED'}"
    )
    rate = stored / ingest if ingest > 0 else 0.0
    growth = peak - before
    target3 = run["state"] == "succeeded" and stored == MILLION and rate >= 100_000 and growth < 300
    print(
        f"  1,000,000 lines                     {rate:8.0f} lines/s stored ({stored} lines in "
        f"{ingest:.1f} s; server RSS {before:.0f} -> peak {peak:.0f} MiB; target >= 100k/s and "
        f"< 300 MiB growth){'' if target3 else '  MISSED'}"
    )
    ok = target1 and target2 and target3
    print("all execution targets met" if ok else "some execution targets missed")
    return ok

"""The Ray executor against the local executor, in the same run (`--only ray`).

A real two-node Ray cluster is started on this machine (`ray start` for a head and a second node,
one CPU each, as tests/ray_cluster.py does). Then, for each executor, a `civica serve` (SQLite
store, one in-process worker) queues N no-op Python runs at once (CIVICA_BENCH_RAY_RUNS, 400 by
default) with the default required_resources (one CPU): the local executor is given this
machine's two cores (CIVICA_WORKER_CPUS=2), the Ray executor the cluster's two one-CPU nodes, so
both run two at a time. Throughput is runs per second from the first run's creation to the last
run's end; the target is Ray >= 0.7x local.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any

import httpx

from benchmarks.__main__ import KEY, free_port, process, wait_up
from benchmarks.execution import _ts, _wait

TARGET = 0.7


def _throughput(runs: int, env: dict[str, str]) -> tuple[float, int, float]:
    """(runs per second, failed runs, seconds) for `runs` no-op runs on a fresh server."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        cmd = [
            sys.executable, "-m", "civica.cli", "serve", "--data-dir", data, "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        base_env = {"CIVICA_ADMIN_API_KEY": KEY, "CIVICA_WORKER_POLL_SECONDS": "0.2", **env}
        with process(cmd, env=base_env):
            base = f"http://127.0.0.1:{port}"
            wait_up(f"{base}/users/me", auth=(KEY, ""))
            with httpx.Client(base_url=base, auth=(KEY, ""), timeout=60) as c:
                sid = c.post("/scripts/python3", json={"name": "noop", "source": "pass"}).json()
                sid = sid["id"]
                # Warm-up: both nodes' Ray workers (or the local interpreter cache) are ready.
                warm = [c.post(f"/scripts/python3/{sid}/runs").json()["id"] for _ in range(4)]
                for rid in warm:
                    _wait(c, sid, rid)
                ids = [c.post(f"/scripts/python3/{sid}/runs").json()["id"] for _ in range(runs)]
                done: list[dict[str, Any]] = [_wait(c, sid, rid, timeout=3600) for rid in ids]
    seconds = max(_ts(r["finishedAt"]) for r in done) - min(_ts(r["createdAt"]) for r in done)
    failed = sum(r["state"] != "succeeded" for r in done)
    return runs / seconds, failed, seconds


def ray_benchmark() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        print("\nRay executor: skipped, Ray is not installed (pip install 'civica[ray]')")
        return True
    from tests.ray_cluster import start_cluster, stop_cluster

    runs = int(os.environ.get("CIVICA_BENCH_RAY_RUNS", "400"))
    t0 = time.perf_counter()
    cluster = start_cluster()
    started = time.perf_counter() - t0
    try:
        local_rate, local_failed, local_s = _throughput(
            runs, {"CIVICA_EXECUTOR": "local", "CIVICA_WORKER_CPUS": "2"}
        )
        ray_rate, ray_failed, ray_s = _throughput(
            runs, {"CIVICA_EXECUTOR": "ray", "CIVICA_RAY_ADDRESS": cluster.address}
        )
    finally:
        stop_cluster(cluster)
    ratio = ray_rate / local_rate if local_rate else 0.0
    ok = ratio >= TARGET and local_failed == 0 and ray_failed == 0
    print(f"\nRay executor ({runs} no-op runs; two-node cluster started in {started:.1f} s)")
    print(
        f"  local executor (2 cores)            {local_rate:8.2f} runs/s  ({local_s:.1f} s, "
        f"failed {local_failed})"
    )
    print(
        f"  Ray executor (2 nodes x 1 CPU)      {ray_rate:8.2f} runs/s  ({ray_s:.1f} s, "
        f"failed {ray_failed})"
    )
    print(
        f"  ratio Ray / local                   {ratio:8.2f}       (target >= {TARGET}x)"
        f"{'' if ok else '  MISSED'}"
    )
    return ok

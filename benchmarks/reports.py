"""Report benchmarks against a real `civica serve` (SQLite store, one in-process worker):

1. snapshot: POST /reports/{id}/snapshots until the run has ended (queue, content URL served by
   civica, headless Chromium, PNG stored as a file), against Chromium screenshotting the same
   HTML from a local file directly: the floor of any snapshot. Target: <= 2.5 x.
2. content: GET of the report's page (token check, permission check, key script added) against
   the lightest authenticated API read (GET /users/me): target >= 1 x its rate; and, for
   scale, against the same bytes as a file through its signed transfer URL (no database).

Run alone with `python -m benchmarks --only reports` (needs chromium on PATH).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.__main__ import KEY, free_port, process, wait_up

SNAPSHOTS = 5
REQUESTS = 300
HTML = (
    "<!DOCTYPE html><html><head><title>bench</title></head><body style='margin:0'>"
    + "".join(f"<p>row {i}: {'x' * 80}</p>" for i in range(200))
    + "<script>document.body.style.background = '#0a0';</script></body></html>"
)


def _bare_screenshot(workdir: Path) -> float:
    from civica.reports.snapshots import chromium_command, find_browser

    page = workdir / "page.html"
    page.write_text(HTML)
    out = workdir / "bare.png"
    argv = chromium_command(find_browser(), page.as_uri(), out, 1440, 900)
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - started
    assert out.stat().st_size > 0
    return elapsed


def _snapshot(c: httpx.Client, rid: int) -> float:
    started = time.perf_counter()
    r = c.post(f"/reports/{rid}/snapshots", json={"width": 1440, "height": 900})
    r.raise_for_status()
    while True:
        snap = c.get(f"/reports/{rid}/snapshots").json()[0]
        if snap["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    assert snap["state"] == "succeeded", snap
    return elapsed


def _rate(url: str, auth: tuple[str, str] | None = None) -> float:
    with httpx.Client(timeout=30, auth=auth) as c:
        c.get(url).raise_for_status()
        started = time.perf_counter()
        for _ in range(REQUESTS):
            c.get(url).raise_for_status()
        return REQUESTS / (time.perf_counter() - started)


def reports_benchmark() -> None:
    if shutil.which("chromium") is None:
        print("reports: skipped, chromium is not installed (make system-deps)")
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        cmd = [
            sys.executable, "-m", "civica.cli", "serve", "--data-dir", data, "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        env = {
            "CIVICA_ADMIN_API_KEY": KEY,
            "CIVICA_WORKERS": "1",
            "CIVICA_WORKER_POLL_SECONDS": "0.05",
            "CIVICA_PUBLIC_URL": base,
            "CIVICA_RATE_LIMIT_PER_MINUTE": "1000000000",
        }
        with process(cmd, env=env):
            wait_up(base + "/users/me", auth=(KEY, ""))
            with httpx.Client(base_url=base, auth=(KEY, ""), timeout=60) as c:
                rid = c.post("/reports", json={"name": "bench", "codeBody": HTML}).json()["id"]
                _snapshot(c, rid)  # warm up
                ours = [_snapshot(c, rid) for _ in range(SNAPSHOTS)]
                with tempfile.TemporaryDirectory() as scratch:
                    bare = [_bare_screenshot(Path(scratch)) for _ in range(SNAPSHOTS)]
                page_url = c.get(f"/reports/{rid}").json()["authCodeUrl"]
                started = c.post("/files", json={"name": "page.html"}).json()
                fields = dict(started["uploadFields"])
                form = [(k, (None, v)) for k, v in fields.items()]
                form.append(("file", ("page.html", HTML.encode())))
                httpx.post(started["uploadUrl"], files=form).raise_for_status()
                file_url = c.get(f"/files/{started['id']}").json()["fileUrl"]
                page_rate, file_rate = _rate(page_url), _rate(file_url)
                me_rate = _rate(base + "/users/me", auth=(KEY, ""))
    snap, floor = statistics.median(ours), statistics.median(bare)
    print(
        f"reports: snapshot (1440x900) median {snap:.2f} s vs Chromium alone {floor:.2f} s: "
        f"{snap / floor:.2f} x (target <= 2.5 x)"
    )
    print(
        f"reports: report page {page_rate:.0f} req/s vs GET /users/me {me_rate:.0f} req/s: "
        f"{page_rate / me_rate:.2f} x (target >= 1 x); vs the same bytes as a file download "
        f"{file_rate:.0f} req/s: {page_rate / file_rate:.2f} x"
    )


if __name__ == "__main__":
    reports_benchmark()

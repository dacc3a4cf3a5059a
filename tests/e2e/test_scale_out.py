"""Scale-out: two `civica serve` processes sharing one PostgreSQL metadata database and one
S3-compatible store (moto on loopback), started at the same time. Runs posted to either are each
executed once, by whichever process's worker claims them, and files uploaded through one are
read through the other."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import civis
import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import Served, start_server, stop_server
from tests.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, moto_endpoint, new_bucket

__all__ = ["moto_endpoint"]
KEY = "scale-out-admin-key-0123456789abcdef"


@pytest.fixture
def pair(
    tmp_path: Path, serve_env: dict[str, str], metadata_url: str, moto_endpoint: str
) -> list[Served]:
    if metadata_url.startswith("sqlite"):
        pytest.skip("several API processes share a PostgreSQL metadata database, not SQLite")
    bucket = new_bucket(moto_endpoint)
    env = dict(
        serve_env,
        CIVICA_ADMIN_API_KEY=KEY,
        CIVICA_STORAGE_URL=f"s3://{bucket}/files?endpoint={moto_endpoint}&region={REGION}",
        CIVICA_STORAGE_ACCESS_KEY_ID=ACCESS_KEY,
        CIVICA_STORAGE_SECRET_ACCESS_KEY=SECRET_KEY,
        CIVICA_WORKER_POLL_SECONDS="0.2",
    )
    # Both start at once: the first start (migrations, the admin) must be taken in turns.
    with ThreadPoolExecutor(2) as pool:
        started = list(pool.map(lambda d: start_server(tmp_path / d, env), ["a", "b"]))
    yield started
    for served in started:
        stop_server(served)


def test_runs_are_claimed_once_and_files_shared_across_processes(
    pair: list[Served], metadata_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = (httpx.Client(base_url=s.url, auth=(KEY, ""), timeout=30) for s in pair)
    source = "import time\ntime.sleep(0.5)\nprint('ran once')\n"
    jobs = [
        a.post("/scripts/python3", json={"name": f"s{i}", "source": source}).json()["id"]
        for i in range(8)
    ]
    runs = {}
    for i, job in enumerate(jobs):
        via = a if i % 2 else b  # each job is visible and runnable through both processes
        r = via.post(f"/scripts/python3/{job}/runs")
        assert r.status_code == 202, r.text
        runs[job] = r.json()["id"]
    deadline = time.monotonic() + 120
    states: dict[int, str] = {}
    while time.monotonic() < deadline:
        states = {
            job: b.get(f"/scripts/python3/{job}/runs/{run}").json()["state"]
            for job, run in runs.items()
        }
        if all(s in ("succeeded", "failed", "cancelled") for s in states.values()):
            break
        time.sleep(0.5)
    assert set(states.values()) == {"succeeded"}, states
    for job, run in runs.items():
        logs = a.get(f"/scripts/python3/{job}/runs/{run}/logs").json()
        assert [line["message"] for line in logs].count("ran once") == 1
    engine = create_engine(metadata_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        workers = conn.execute(
            text("SELECT worker_id FROM runs WHERE id = ANY(:ids)"), {"ids": list(runs.values())}
        ).scalars()
        pids = {w.split(":")[1] for w in workers}
    engine.dispose()
    served_pids = {str(s.process.pid) for s in pair}
    assert pids <= served_pids and len(pids) == 2, (pids, served_pids)

    # A file uploaded through one process is read through the other (one shared store).
    a_url, b_url = (s.url + "/" for s in pair)
    monkeypatch.setenv("CIVIS_API_ENDPOINT", a_url)
    via_a = civis.APIClient(api_key=KEY)
    content = b"shared store\n" * 1000
    file_id = civis.io.file_to_civis(io.BytesIO(content), "shared.txt", client=via_a)
    monkeypatch.setenv("CIVIS_API_ENDPOINT", b_url)
    via_b = civis.APIClient(api_key=KEY)
    out = io.BytesIO()
    civis.io.civis_to_file(file_id, out, client=via_b)
    assert out.getvalue() == content

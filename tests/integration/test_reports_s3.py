"""Reports whose output file lives in an S3-compatible store (moto on loopback): civica reads the
file from the store and serves it sandboxed at the report's content URLs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from civica.execution.worker import Worker
from civica.settings import Settings
from tests.conftest import LiveServer
from tests.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, moto_endpoint, new_bucket
from tests.workers import fast_settings, wait_run, worker

__all__ = ["moto_endpoint", "worker"]

SOURCE = """
import os, civis
with open('report.html', 'w') as fh:
    fh.write('<html><head></head><body><h1>From S3</h1></body></html>')
file_id = civis.io.file_to_civis('report.html', 'report.html')
civis.APIClient().scripts.post_python3_runs_outputs(
    int(os.environ['CIVIS_JOB_ID']), int(os.environ['CIVIS_RUN_ID']), 'File', file_id
)
"""


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str, moto_endpoint: str) -> Settings:
    bucket = new_bucket(moto_endpoint)
    return fast_settings(
        tmp_path,
        metadata_url,
        storage_url=f"s3://{bucket}/civica/files?endpoint={moto_endpoint}&region={REGION}",
        storage_access_key_id=ACCESS_KEY,
        storage_secret_access_key=SECRET_KEY,
    )


def test_script_report_served_from_s3(live: LiveServer, worker: Worker) -> None:
    _, key = live.new_user("s3reporter")
    with live.client(key) as c:
        sid = c.post("/scripts/python3", json={"name": "html", "source": SOURCE}).json()["id"]
        run_id = c.post(f"/scripts/python3/{sid}/runs").json()["id"]
        run = wait_run(c, f"/scripts/python3/{sid}/runs/{run_id}", timeout=60)
        assert run["state"] == "succeeded", c.get(f"/scripts/python3/{sid}/runs/{run_id}/logs").text
        rep = c.post("/reports", json={"name": "s3", "scriptId": sid}).json()
        assert rep["validOutputFile"] is True
        page = httpx.get(rep["authCodeUrl"])
        assert page.status_code == 200 and "<h1>From S3</h1>" in page.text
        assert page.text.startswith("<html><head><script>window.civica=")
        assert page.headers["content-security-policy"].startswith("sandbox")
        data = httpx.get(rep["authDataUrl"])  # streamed from the store as it is
        assert data.status_code == 200
        assert data.text == "<html><head></head><body><h1>From S3</h1></body></html>"
        assert data.headers["referrer-policy"] == "no-referrer"

"""The public `civis` client's reports methods against civica: a report from a script's HTML
output (uploaded with civis.io from inside the run) and one from code_body, shared with a viewer,
granted an API key, with a daily snapshot e-mail scheduled."""

from __future__ import annotations

import civis
import httpx
import pytest

from civica.execution.worker import Worker
from tests.conftest import LiveServer
from tests.workers import settings, worker

__all__ = ["settings", "worker"]

SOURCE = """
import os, civis
path = 'report.html'
with open(path, 'w') as fh:
    fh.write('<html><body><h1>Weekly numbers</h1></body></html>')
file_id = civis.io.file_to_civis(path, 'report.html')
c = civis.APIClient()
c.scripts.post_python3_runs_outputs(
    int(os.environ['CIVIS_JOB_ID']), int(os.environ['CIVIS_RUN_ID']), 'File', file_id
)
"""


def test_reports_through_the_public_client(
    live: LiveServer, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    _, key = live.new_user()
    viewer_id, viewer_key = live.new_user()
    client = civis.APIClient(api_key=key)
    job_id = int(client.scripts.post_python3("html maker", SOURCE)["id"])
    future = civis.utils.run_job(job_id, client=client, polling_interval=0.1)
    assert future.result(timeout=90)["state"] == "succeeded"

    from_script = client.reports.post(script_id=job_id, name="Weekly")
    assert from_script.valid_output_file is True and from_script.script.id == job_id
    page = httpx.get(from_script.auth_code_url)
    assert "Weekly numbers" in page.text and page.headers["content-security-policy"]

    coded = client.reports.post(name="Coded", code_body="<p>hello</p>", provide_api_key=True)
    assert coded.provide_api_key is True and coded.api_key is None
    client.reports.put_shares_users(coded.id, [viewer_id], "read")
    seen = civis.APIClient(api_key=viewer_key).reports.get(coded.id)
    assert "<p>hello</p>" in httpx.get(seen.auth_code_url).text

    granted = client.reports.post_grants(coded.id)
    assert granted.api_key and granted.api_key_id
    assert civis.APIClient(api_key=granted.api_key).users.get_me()["username"]
    client.reports.delete_grants(coded.id)
    assert client.reports.get(coded.id).api_key_id is None

    snap = client.reports.patch_snapshots(
        coded.id,
        recipient_email_addresses="team@example.com",
        email_subject="Daily report",
        send_email_on_completion=True,
        schedule={"scheduled": True, "scheduled_days": list(range(7)), "scheduled_hours": [8]},
    )
    assert snap.schedule.scheduled is True and snap.width == 1440
    listed = client.reports.list_snapshots(coded.id)
    assert [s.recipient_email_addresses for s in listed] == ["team@example.com"]
    assert [r.id for r in client.reports.list()] == [coded.id, from_script.id]

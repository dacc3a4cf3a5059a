"""Reports over HTTP: code and script-output reports, their sandboxed content URLs, shares,
grants (a real API key for the report), and snapshots rendered by real headless Chromium."""

from __future__ import annotations

import shutil
import struct
import time
import zlib
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from civica.db.models import DeliveryRow, ReportRow
from civica.execution.worker import Worker
from civica.reports.content import content_signer
from tests.conftest import LiveServer
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]

CODE = (
    "<!DOCTYPE html><html><head><title>t</title></head>"
    '<body style="margin:0;background:#ff0000"><h1 id="x">Sales</h1>'
    "<script>document.body.style.background = 'rgb(0, 170, 0)';</script></body></html>"
)


def post_report(c: httpx.Client, **body: Any) -> dict[str, Any]:
    r = c.post("/reports", json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_code_report_crud_list_and_content(live: LiveServer) -> None:
    uid, key = live.new_user("reporter")
    with live.client(key) as c:
        rep = post_report(c, name="Sales", codeBody=CODE, appState={"tab": 1})
        rid = rep["id"]
        assert rep["user"]["id"] == uid and rep["type"] == "ReportTypes::HTML"
        assert rep["appState"] == {"tab": 1} and rep["provideAPIKey"] is False
        assert rep["apiKey"] is None and rep["apiKeyId"] is None
        assert rep["validOutputFile"] is False and rep["script"] is None
        assert rep["vizUpdatedAt"] is not None and rep["myPermissionLevel"] == "manage"
        assert rep["authCodeUrl"].startswith(live.url + "/report-content/code/")
        assert rep["authDataUrl"] is None and rep["archived"] == "false"

        page = httpx.get(rep["authCodeUrl"])
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert csp.startswith("sandbox ") and "allow-scripts" in csp
        assert "allow-same-origin" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "no-store" in page.headers["cache-control"]
        assert '<h1 id="x">Sales</h1>' in page.text
        assert page.text.startswith("<!DOCTYPE html><html><head><script>window.civica=")
        assert "apiKey" not in page.text  # nothing granted

        r = c.patch(f"/reports/{rid}", json={"name": "Sales Q3", "config": '{"a":1}'})
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Sales Q3" and r.json()["config"] == '{"a":1}'
        assert r.json()["appState"] == {"tab": 1}
        r = c.patch(f"/reports/{rid}", json={"codeBody": "<p>v2</p>", "appState": {"tab": 2}})
        assert r.json()["appState"] == {"tab": 2}
        assert "<p>v2</p>" in httpx.get(r.json()["authCodeUrl"]).text
        assert c.patch(f"/reports/{rid}", json={"name": " "}).status_code == 400
        bad = c.patch(f"/reports/{rid}", json={"scriptId": 999999})
        assert bad.status_code == 400 and "script_id" in bad.json()["errorDescription"]
        assert c.post("/reports", json={"bogus": 1}).status_code == 400

        # A template: another code report whose code this one shows; changing it resets appState.
        empty = post_report(c, name="empty")
        assert empty["authCodeUrl"] is None
        r = c.patch(f"/reports/{empty['id']}", json={"templateId": rid, "appState": {"k": 1}})
        assert r.status_code == 200, r.text
        assert r.json()["templateId"] == rid and r.json()["appState"] == {"k": 1}
        assert "<p>v2</p>" in httpx.get(r.json()["authCodeUrl"]).text
        r = c.patch(f"/reports/{empty['id']}", json={"templateId": None})
        assert r.json()["templateId"] is None and r.json()["appState"] == {}
        assert (
            c.patch(f"/reports/{empty['id']}", json={"templateId": empty["id"]}).status_code == 400
        )

        hidden = post_report(c, name="hidden one", codeBody="x", hidden=True)
        listed = c.get("/reports", params={"order": "name", "order_dir": "asc"})
        assert listed.status_code == 200
        names = [x["name"] for x in listed.json()]
        assert names == ["Sales Q3", "empty"]
        assert "authCodeUrl" not in listed.json()[0] and "apiKey" not in listed.json()[0]
        assert [x["id"] for x in c.get("/reports", params={"hidden": True}).json()] == [
            hidden["id"]
        ]
        assert c.get("/reports", params={"type": "tableau"}).json() == []
        assert len(c.get("/reports", params={"type": "other", "author": str(uid)}).json()) == 2
        assert c.get("/reports", params={"author": "0"}).json() == []
        assert c.get("/reports", params={"type": "pie"}).status_code == 400
        assert c.get("/reports", params={"limit": 1, "page_num": 3}).json() == []

        # Archive and projects come from the shared factories.
        r = c.put(f"/reports/{rid}/archive", json={"status": True})
        assert r.status_code == 200 and r.json()["archived"] == "true"
        assert [x["id"] for x in c.get("/reports").json()] == [empty["id"]]
        assert c.get("/reports", params={"archived": "true"}).json()[0]["id"] == rid
        project = c.post("/projects", json={"name": "P", "description": ""}).json()
        assert c.put(f"/reports/{rid}/projects/{project['id']}").status_code == 204
        assert [p["id"] for p in c.get(f"/reports/{rid}/projects").json()] == [project["id"]]
        assert c.get(f"/reports/{rid}").json()["projects"] == [{"id": project["id"], "name": "P"}]
        detail = c.get(f"/projects/{project['id']}").json()
        assert [x["id"] for x in detail["reports"]] == [rid]
        assert c.delete(f"/reports/{rid}/projects/{project['id']}").status_code == 204


def test_shares_and_content_permissions(live: LiveServer) -> None:
    _, owner = live.new_user("rowner")
    viewer_id, viewer = live.new_user("rviewer")
    _, stranger = live.new_user("rstranger")
    with live.client(owner) as o, live.client(viewer) as v, live.client(stranger) as s:
        rid = post_report(o, name="private", codeBody="<p>secret numbers</p>")["id"]
        assert s.get(f"/reports/{rid}").status_code == 404
        assert v.get(f"/reports/{rid}").status_code == 404
        assert s.get("/reports").json() == []
        r = o.put(
            f"/reports/{rid}/shares/users",
            json={"userIds": [viewer_id], "permissionLevel": "read"},
        )
        assert r.status_code == 200, r.text
        seen = v.get(f"/reports/{rid}")
        assert seen.status_code == 200 and seen.json()["myPermissionLevel"] == "read"
        assert [x["id"] for x in v.get("/reports").json()] == [rid]
        url = seen.json()["authCodeUrl"]
        assert "secret numbers" in httpx.get(url).text
        # Read is not write, manage or grant.
        assert v.patch(f"/reports/{rid}", json={"name": "x"}).status_code == 403
        assert v.post(f"/reports/{rid}/grants").status_code == 403
        assert v.post(f"/reports/{rid}/snapshots", json={}).status_code == 403
        assert v.put(f"/reports/{rid}/archive", json={"status": True}).status_code == 403
        # A stranger cannot forge or alter a URL.
        token = url.rsplit("/", 1)[1]
        payload, mac = token.split(".")
        flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
        forged = httpx.get(f"{live.url}/report-content/code/{flipped}.{mac}")
        assert forged.status_code == 403 and "signature" in forged.json()["errorDescription"]
        assert httpx.get(f"{live.url}/report-content/code/nonsense").status_code == 403
        # A report token is not a file download token, nor a data token.
        assert httpx.get(f"{live.url}/transfer/download/{token}").status_code == 403
        assert httpx.get(f"{live.url}/report-content/data/{token}").status_code == 403
        # An expired URL is refused, saying where to get a fresh one.
        signer = content_signer(live.platform)
        old = signer.sign("report-code", f"report/{rid}", time.time() - 5, u=viewer_id)
        expired = httpx.get(f"{live.url}/report-content/code/{old}")
        assert expired.status_code == 403 and "expired" in expired.json()["errorDescription"]
        # Unsharing takes effect on URLs already handed out.
        assert o.delete(f"/reports/{rid}/shares/users/{viewer_id}").status_code == 204
        assert httpx.get(url).status_code == 404
        assert v.get(f"/reports/{rid}").status_code == 404


def test_grants_give_the_report_a_revocable_key(live: LiveServer) -> None:
    owner_id, owner = live.new_user("grantor")
    manager_id, manager = live.new_user("grant_manager")
    with live.client(owner) as o, live.client(manager) as m:
        rid = post_report(o, name="app", codeBody="<p>app</p>", provideAPIKey=True)["id"]
        o.put(
            f"/reports/{rid}/shares/users",
            json={"userIds": [manager_id], "permissionLevel": "manage"},
        )
        denied = m.post(f"/reports/{rid}/grants")
        assert denied.status_code == 403 and "owner" in denied.json()["errorDescription"]
        r = o.post(f"/reports/{rid}/grants")
        assert r.status_code == 200, r.text
        granted = r.json()
        key, key_id = granted["apiKey"], granted["apiKeyId"]
        assert key and key_id and key != owner
        assert o.post(f"/reports/{rid}/grants").json()["apiKeyId"] == key_id  # idempotent
        # The key is a real key acting for the owner.
        with live.client(key) as as_report:
            me = as_report.get("/users/me")
            assert me.status_code == 200 and me.json()["id"] == owner_id
        page = httpx.get(m.get(f"/reports/{rid}").json()["authCodeUrl"]).text
        assert f'"apiKey":"{key}"' in page and f'"apiKeyId":{key_id}' in page
        # Off provide_api_key: the key is kept but not handed to the front end.
        r = o.patch(f"/reports/{rid}", json={"provide_api_key": False})
        assert r.json()["apiKey"] is None and r.json()["apiKeyId"] == key_id
        assert key not in httpx.get(r.json()["authCodeUrl"]).text
        o.patch(f"/reports/{rid}", json={"provideApiKey": True})
        # Revoking: a manager may, and the key stops working at once.
        assert m.delete(f"/reports/{rid}/grants").status_code == 204
        with live.client(key) as as_report:
            assert as_report.get("/users/me").status_code == 401
        after = o.get(f"/reports/{rid}").json()
        assert after["apiKey"] is None and after["apiKeyId"] is None
        assert key not in httpx.get(after["authCodeUrl"]).text
    with live.platform.transaction() as session:
        row = session.get(ReportRow, rid)
        assert row is not None and row.api_key_encrypted is None


HTML_SCRIPT = """
import os, httpx
env = os.environ
c = httpx.Client(base_url=env['CIVIS_API_ENDPOINT'], auth=(env['CIVIS_API_KEY'], ''))
html = b'<html><body><h2>Made by run ' + env['CIVIS_RUN_ID'].encode() + b'</h2></body></html>'
started = c.post('/files', json={'name': 'report.html'}).json()
fields = dict(started['uploadFields'])
files = [(k, (None, v)) for k, v in fields.items()] + [('file', ('report.html', html))]
up = httpx.post(started['uploadUrl'], files=files)
assert up.status_code in (200, 201, 204), up.text
job, run = os.environ['CIVIS_JOB_ID'], os.environ['CIVIS_RUN_ID']
r = c.post(f'/scripts/python3/{job}/runs/{run}/outputs',
           json={'object_type': 'File', 'object_id': started['id']})
assert r.is_success, r.text
print('posted', started['id'])
"""


def test_report_from_a_scripts_html_output(live: LiveServer, worker: Worker) -> None:
    _, key = live.new_user("scripter")
    viewer_id, viewer = live.new_user("script_viewer")
    with live.client(key) as c, live.client(viewer) as v:
        script = c.post("/scripts/python3", json={"name": "builds html", "source": HTML_SCRIPT})
        assert script.status_code == 201, script.text
        sid = script.json()["id"]
        rep = post_report(c, name="from script", scriptId=sid)
        rid = rep["id"]
        assert rep["validOutputFile"] is False and rep["authCodeUrl"] is None
        assert rep["script"] == {"id": sid, "name": "builds html", "sql": None}
        assert rep["jobPath"] == f"/jobs/{sid}" and rep["lastRun"] is None
        run_id = c.post(f"/scripts/python3/{sid}/runs").json()["id"]
        run = wait_run(c, f"/scripts/python3/{sid}/runs/{run_id}", timeout=60)
        assert run["state"] == "succeeded", c.get(f"/scripts/python3/{sid}/runs/{run_id}/logs").text
        rep = c.get(f"/reports/{rid}").json()
        assert rep["validOutputFile"] is True and rep["state"] == "succeeded"
        assert rep["lastRun"]["id"] == run_id and rep["finishedAt"] == run["finishedAt"]
        assert rep["vizUpdatedAt"] == run["finishedAt"]
        [listed] = c.get("/reports").json()
        assert listed["vizUpdatedAt"] == run["finishedAt"] and listed["state"] == "succeeded"
        archived = c.put(f"/reports/{rid}/archive", json={"status": True}).json()
        assert archived["validOutputFile"] is True and archived["archived"] == "true"
        c.put(f"/reports/{rid}/archive", json={"status": False})
        page = httpx.get(rep["authCodeUrl"])
        assert page.status_code == 200 and f"Made by run {run_id}" in page.text
        assert page.headers["content-security-policy"].startswith("sandbox")
        data = httpx.get(rep["authDataUrl"])
        assert data.status_code == 200 and data.text.startswith("<html><body><h2>Made by")
        assert "window.civica" not in data.text  # the data URL is the file as it is
        assert data.headers["x-content-type-options"] == "nosniff"
        # A reader of the report sees its output without reading the script.
        share = {"userIds": [viewer_id], "permissionLevel": "read"}
        c.put(f"/reports/{rid}/shares/users", json=share)
        seen = v.get(f"/reports/{rid}").json()
        assert seen["script"] is None and seen["jobPath"] is None
        assert f"Made by run {run_id}" in httpx.get(seen["authCodeUrl"]).text
        assert v.get(f"/scripts/python3/{sid}").status_code == 404
        # Reading a script is not a way to publish output files one cannot read: a report shows
        # only the files its owner may read.
        c.put(f"/scripts/python3/{sid}/shares/users", json=share)
        theirs = post_report(v, name="borrowed", scriptId=sid)
        assert theirs["validOutputFile"] is False and theirs["authCodeUrl"] is None
        [output] = c.get(f"/jobs/{sid}/runs/{run_id}/outputs").json()
        assert v.get(f"/files/{output['objectId']}").status_code == 404
        c.put(f"/files/{output['objectId']}/shares/users", json=share)
        theirs = v.get(f"/reports/{theirs['id']}").json()
        assert theirs["validOutputFile"] is True
        assert f"Made by run {run_id}" in httpx.get(theirs["authCodeUrl"]).text
        # A failed later run leaves the last good output showing.
        c.patch(f"/scripts/python3/{sid}", json={"source": "raise SystemExit(3)"})
        failed_id = c.post(f"/scripts/python3/{sid}/runs").json()["id"]
        assert wait_run(c, f"/scripts/python3/{sid}/runs/{failed_id}")["state"] == "failed"
        rep = c.get(f"/reports/{rid}").json()
        assert rep["state"] == "failed" and rep["lastRun"]["id"] == failed_id
        assert rep["validOutputFile"] is True
        assert f"Made by run {run_id}" in httpx.get(rep["authCodeUrl"]).text


# -- snapshots ------------------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        filt, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if filt == 1:
                line[i] = (line[i] + a) & 0xFF
            elif filt == 2:
                line[i] = (line[i] + b) & 0xFF
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [r[i : i + 3] for r in rows for i in range(0, len(r), bpp)]  # type: ignore[misc]


needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="headless Chromium is not installed (run `make system-deps`); snapshots need it",
)


def wait_snapshot(c: httpx.Client, rid: int, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        snap: dict[str, Any] = c.get(f"/reports/{rid}/snapshots").json()[0]
        if snap["state"] in ("succeeded", "failed", "cancelled"):
            return snap
        assert time.monotonic() < deadline, f"snapshot still {snap['state']}"
        time.sleep(0.1)


def test_snapshot_settings_are_checked_and_kept(live: LiveServer) -> None:
    _, key = live.new_user("snapper")
    with live.client(key) as c:
        rid = post_report(c, name="s", codeBody="<p>x</p>")["id"]
        assert c.get(f"/reports/{rid}/snapshots").json() == []  # none saved yet
        r = c.patch(
            f"/reports/{rid}/snapshots",
            json={
                "recipientEmailAddresses": "ana@example.com, ben@example.org",
                "emailSubject": "Daily sales",
                "emailTemplate": "Here is **today's** picture.",
                "sendEmailOnCompletion": True,
                "schedule": {"scheduled": True, "scheduledDays": [0, 1, 2, 3, 4, 5, 6],
                             "scheduledHours": [7], "scheduledMinutes": [30]},
            },
        )  # fmt: skip
        assert r.status_code == 200, r.text
        snap = r.json()
        assert snap["id"] == rid and snap["state"] == "idle"
        assert snap["width"] == 1440 and snap["height"] == 900
        assert snap["recipientEmailAddresses"] == "ana@example.com, ben@example.org"
        assert snap["schedule"]["scheduled"] is True and snap["schedule"]["scheduledHours"] == [7]
        assert c.get(f"/reports/{rid}/snapshots").json() == [snap]
        r = c.patch(
            f"/reports/{rid}/snapshots", json={"width": 1000, "schedule": {"scheduledHours": [8]}}
        )
        assert r.json()["width"] == 1000 and r.json()["schedule"]["scheduledHours"] == [8]
        assert r.json()["schedule"]["scheduledMinutes"] == [30]
        small = c.patch(f"/reports/{rid}/snapshots", json={"height": 100})
        assert small.status_code == 400 and "height" in small.json()["errorDescription"]
        bad = c.patch(
            f"/reports/{rid}/snapshots", json={"recipientEmailAddresses": "a@x.com, nope"}
        )
        assert bad.status_code == 400 and "'nope'" in bad.json()["errorDescription"]
        wrong = c.patch(f"/reports/{rid}/snapshots", json={"schedule": {"scheduledHours": [25]}})
        assert wrong.status_code == 400
        assert c.patch(f"/reports/{rid}/snapshots", json={"parentId": 999999}).status_code == 400
        assert c.get(f"/reports/{rid}/snapshots").json()[0]["width"] == 1000  # nothing half-saved
    with live.platform.transaction() as session:
        row = session.get(ReportRow, rid)
        assert row is not None and row.snapshot_job_id is not None
        from civica.db.models import JobRow

        job = session.get(JobRow, row.snapshot_job_id)
        assert job is not None and job.kind == "report_snapshot"
        assert job.config["schedule"]["scheduled"] is True and job.next_run_at is not None


@needs_chromium
def test_snapshot_renders_the_report_in_chromium(live: LiveServer, worker: Worker) -> None:
    _, key = live.new_user("photographer")
    with live.client(key) as c:
        rid = post_report(c, name="green", codeBody=CODE)["id"]
        r = c.post(
            f"/reports/{rid}/snapshots",
            json={
                "width": 800,
                "height": 600,
                "recipientEmailAddresses": "boss@example.com",
                "emailSubject": "Green report",
                "sendEmailOnCompletion": True,
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["state"] in ("queued", "running", "succeeded")
        snap = wait_snapshot(c, rid)
        rep = c.get(f"/reports/{rid}").json()
        assert snap["state"] == "succeeded", snap
        assert snap["finishedAt"] is not None
        thumb = httpx.get(rep["authThumbnailUrl"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
        width, height, pixels = decode_png(thumb.content)
        assert (width, height) == (800, 600)
        # The report's script ran: the page is green, not the red it starts with, nor blank.
        green = sum(1 for p in pixels if p[1] > 150 and p[0] < 60 and p[2] < 60)
        white = sum(1 for p in pixels if p == b"\xff\xff\xff")
        assert green > len(pixels) * 0.8 and white < len(pixels) * 0.1
        # The PNG is a File output of the snapshot run; the e-mail is queued with it attached.
        with live.platform.transaction() as session:
            row = session.get(ReportRow, rid)
            assert row is not None and row.snapshot_job_id is not None
            job_id = row.snapshot_job_id
            mails = session.scalars(select(DeliveryRow).where(DeliveryRow.job_id == job_id)).all()
            assert len(mails) == 1 and mails[0].target == "boss@example.com"
            assert mails[0].payload["subject"] == "Green report"
            assert mails[0].payload["attachments"][0]["content_type"] == "image/png"
        runs = c.get(f"/jobs/{job_id}/runs").json()
        outputs = c.get(f"/jobs/{job_id}/runs/{runs[0]['id']}/outputs").json()
        assert outputs[0]["objectType"] == "File" and outputs[0]["name"].endswith(".png")
        logs = c.get(f"/jobs/{job_id}/runs/{runs[0]['id']}/logs").json()
        text = " ".join(x["message"] for x in logs)
        assert "800x600" in text and "report-content" not in text  # the URL is not logged


@needs_chromium
def test_snapshot_of_a_report_with_nothing_to_show_fails_clearly(
    live: LiveServer, worker: Worker
) -> None:
    _, key = live.new_user("emptysnap")
    with live.client(key) as c:
        rid = post_report(c, name="empty")["id"]
        c.post(f"/reports/{rid}/snapshots", json={})
        snap = wait_snapshot(c, rid)
        assert snap["state"] == "failed"
        rep = c.get(f"/reports/{rid}").json()
        assert rep["authThumbnailUrl"] is None


def test_chromium_missing_is_a_clear_run_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from civica.reports import snapshots

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(snapshots.SnapshotError, match="Chromium is not installed"):
        snapshots.find_browser()

"""Fault injection for where file bytes live: the object store unavailable (an S3-compatible
store behind a proxy that is switched off, then on) and the disk full (the data folder on a
small tmpfs, filled up, then freed).

During the fault every request is answered (a 503 or 507 naming the cause, never a 500), work
that needs the store or the disk fails with an error that says so, and other work goes on.
Afterwards nothing committed is lost, nothing half-written is readable, no run is stuck, and
the same work succeeds.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import subprocess
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests

from tests.e2e.conftest import Served, serve_env, start_server, stop_server
from tests.faultproxy import FaultProxy
from tests.faults.test_faults import client, env, quick_script, run, settle
from tests.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, moto_endpoint, new_bucket

__all__ = ["env", "moto_endpoint", "serve_env"]

PART = 5 * 2**20


def upload(c: httpx.Client, name: str, content: bytes) -> httpx.Response | requests.Response:
    """As the public client does: POST /files, then the form to the URL it returned."""
    started = c.post("/files", json={"name": name})
    if started.status_code >= 300:
        return started
    body = started.json()
    fields = dict(body["uploadFields"])
    form: OrderedDict[str, Any] = OrderedDict(key=fields.pop("key"))
    form.update(fields)
    form["file"] = content
    r = requests.post(body["uploadUrl"], files=form, timeout=30)
    r.file_id = int(body["id"])  # type: ignore[attr-defined]
    return r


def managed_db(c: httpx.Client) -> int:
    return int(next(d["id"] for d in c.get("/databases").json() if d["managed"]))


def sql_script(c: httpx.Client, sql: str) -> int:
    r = c.post("/scripts/sql", json={"name": "export", "sql": sql, "remote_host_id": managed_db(c)})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def csv_import(c: httpx.Client, file_id: int, table: str) -> int:
    r = c.post(
        "/imports/files/csv",
        json={"source": {"file_ids": [file_id]}, "first_row_is_header": True,
              "destination": {"schema": "public", "table": table,
                              "remote_host_id": managed_db(c)}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def answered(r: httpx.Response | requests.Response, *codes: int) -> str:
    """The request got one of `codes` with an errorDescription; returns that description."""
    assert r.status_code in codes, f"{r.status_code}: {r.text}"
    description = str(r.json()["errorDescription"])
    assert description and "unexpected" not in description
    return description


# --- the object store unavailable ---------------------------------------------------------------


@pytest.fixture
def store_proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    target = urlsplit(moto_endpoint)
    assert target.hostname and target.port
    with FaultProxy(target.hostname, target.port) as proxy:
        yield proxy


@pytest.mark.sqlite_only("the object store's faults do not depend on the metadata store")
def test_object_store_unavailable(
    tmp_path: Path, env: dict[str, str], moto_endpoint: str, store_proxy: FaultProxy
) -> None:
    bucket = new_bucket(moto_endpoint)
    served = start_server(
        tmp_path / "data",
        dict(
            env,
            CIVICA_STORAGE_URL=f"s3://{bucket}/files?endpoint={store_proxy.url}&region={REGION}",
            CIVICA_STORAGE_ACCESS_KEY_ID=ACCESS_KEY,
            CIVICA_STORAGE_SECRET_ACCESS_KEY=SECRET_KEY,
        ),
    )
    try:
        _store_outage(served, store_proxy)
    finally:
        stop_server(served)
        print("".join(served.output[-200:]))


def _store_outage(served: Served, proxy: FaultProxy) -> None:
    content = b"id,name\n1,ann\n2,bob\n"
    with client(served) as c:
        kept = upload(c, "kept.csv", content)
        assert kept.status_code == 204, kept.text
        kept_id: int = kept.file_id  # type: ignore[union-attr]
        multi = c.post("/files/multipart", json={"name": "late.bin", "num_parts": 2}).json()
        parts = [b"a" * PART, b"the end"]
        for url, part in zip(multi["uploadUrls"], parts, strict=True):
            assert httpx.put(url, content=part).status_code == 200
        export = sql_script(c, "SELECT 42 AS answer")
        load = csv_import(c, kept_id, "people")
        plain = quick_script(c)

        proxy.down()
        # Calls that need the store are refused with the cause, never a 500.
        why = answered(c.post("/files/multipart", json={"name": "m", "num_parts": 1}), 503)
        assert "S3 store could not" in why and "try again later" in why
        why = answered(c.post(f"/files/multipart/{multi['id']}/complete", json={}), 503)
        assert "S3 store could not" in why
        waiting = c.get(f"/files/{multi['id']}").json()
        assert waiting["state"] == "pending" and waiting["fileUrl"] is None
        # What is recorded is still served (the links point at the store, for when it is back).
        info = c.get(f"/files/{kept_id}")
        assert info.status_code == 200 and info.json()["fileSize"] == len(content)
        # Runs that read or write the store fail and say why; others are not held up.
        export_run = run(c, export)
        load_run = c.post(f"/imports/files/csv/{load}/runs").json()["id"]
        plain_run = run(c, plain)
        ended = settle(c, {export_run: export, load_run: load, plain_run: plain})
        assert ended[plain_run]["state"] == "succeeded"
        for rid in (export_run, load_run):
            assert ended[rid]["state"] == "failed", ended[rid]
            assert "store" in ended[rid]["error"], ended[rid]["error"]
        assert c.get(f"/jobs/{export}/runs/{export_run}/outputs").json() == []
        assert proxy.refused > 0, "the store was never asked during the outage"

        proxy.up()
        # Nothing committed was lost, and what failed now succeeds.
        info = c.get(f"/files/{kept_id}").json()
        assert httpx.get(info["fileUrl"]).content == content
        assert c.post(f"/files/multipart/{multi['id']}/complete", json={}).status_code == 204
        late = c.get(f"/files/{multi['id']}").json()
        assert late["state"] == "uploaded"
        assert httpx.get(late["fileUrl"]).content == b"".join(parts)
        again = {run(c, export): export}
        again[int(c.post(f"/imports/files/csv/{load}/runs").json()["id"])] = load
        assert all(r["state"] == "succeeded" for r in settle(c, again).values())
        outputs = c.get(f"/jobs/{export}/runs/{next(iter(again))}/outputs").json()
        exported = c.get(f"/files/{outputs[0]['objectId']}").json()
        exported_csv = gzip.decompress(httpx.get(exported["fileUrl"]).content)
        assert exported_csv.split() == [b"answer", b"42"]


# --- the disk full ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MiB tmpfs: a disk that fills up quickly. Needs root (or CAP_SYS_ADMIN)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"a small disk needs `mount -t tmpfs` (root): {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill `disk` up to `leave` free bytes with a file outside civica's data folder."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free - leave
    with open(filler, "ab") as fh, contextlib.suppress(OSError):
        while free > 0:
            chunk = min(free, 4 * 2**20)
            fh.write(b"\0" * chunk)
            fh.flush()
            free -= chunk
    return filler


def transfer_form(c: httpx.Client, name: str, content: bytes) -> tuple[int, httpx.Response]:
    """POST /files, then the upload to the URL it gave; (0, refusal) if POST /files failed."""
    r = c.post("/files", json={"name": name})
    if r.status_code >= 300:
        return 0, r
    started = r.json()
    fields = dict(started["uploadFields"])
    files: dict[str, Any] = {k: (None, v) for k, v in fields.items()}
    files["file"] = (name, content)
    return int(started["id"]), httpx.post(started["uploadUrl"], files=files, timeout=60)


def test_disk_full(
    tmp_path: Path, env: dict[str, str], small_disk: Path, metadata_url: str
) -> None:
    """The data folder (SQLite metadata, file store, warehouse, runs' folders) on a disk that
    fills up. With PostgreSQL only the files, the warehouse and the runs are on it."""
    served = start_server(small_disk / "data", env)
    try:
        _disk_outage(served, small_disk, sqlite=metadata_url.startswith("sqlite"))
    finally:
        stop_server(served)
        print("".join(served.output[-200:]))


def _disk_outage(served: Served, disk: Path, *, sqlite: bool) -> None:
    content = b"id,name\n1,ann\n2,bob\n"
    with client(served) as c:
        project = c.post("/projects", json={"name": "kept", "description": ""}).json()
        kept_id, r = transfer_form(c, "kept.csv", content)
        assert r.status_code in (200, 204), r.text
        writer = c.post(
            "/scripts/python3",
            json={"name": "writer", "source": "open('big', 'wb').write(b'x' * 8 * 2**20)\n"},
        ).json()["id"]
        export = sql_script(c, "SELECT range AS n FROM range(3000000)")

        # An upload bigger than the room left: refused, and no part of it kept or readable.
        filler = fill(disk, leave=2 * 2**20)
        big_id, r = transfer_form(c, "big.bin", b"b" * 6 * 2**20)
        why = answered(r, 507)
        assert "full" in why
        big = c.get(f"/files/{big_id}").json()
        assert big["state"] != "uploaded" and big["fileUrl"] is None
        incoming = [p for p in (served.data_dir / "files").rglob("*") if p.is_file()]
        assert sum(p.stat().st_size for p in incoming) < 2**20, "a partial upload was kept"

        # Runs that write more than the room left fail and say why; nothing is left running.
        runs = {run(c, writer): writer, run(c, export): export}
        ended = settle(c, runs)
        for rid, r in ended.items():
            assert r["state"] == "failed", r
            logs = c.get(f"/jobs/{runs[rid]}/runs/{rid}/logs").json()
            said = " ".join([r["error"], *(line["message"] for line in logs)])
            assert "No space left on device" in said or "disk is full" in said, said
        assert not list((served.data_dir / "runs").glob("*/big")), "a failed run kept its files"

        # No room at all: reads still work; writes are answered with the cause.
        fill(disk)
        assert c.get(f"/projects/{project['id']}").status_code == 200
        assert c.get(f"/files/{kept_id}").status_code == 200
        for _ in range(20):  # SQLite may still have free pages for a few rows
            made = c.post("/projects", json={"name": "crowded", "description": ""})
            if made.status_code != 200:
                break
        if sqlite:
            assert "full" in answered(made, 507)
        else:
            assert made.status_code == 200, made.text
        _, r = transfer_form(c, "more.csv", content)
        assert "full" in answered(r, 507)

        # Room again: everything committed is there and the same work succeeds.
        os.unlink(filler)
        assert c.get(f"/projects/{project['id']}").json()["name"] == "kept"
        kept = c.get(f"/files/{kept_id}").json()
        assert httpx.get(kept["fileUrl"]).content == content
        again_id, r = transfer_form(c, "again.csv", content)
        assert r.status_code in (200, 204), r.text
        again = c.get(f"/files/{again_id}").json()
        assert httpx.get(again["fileUrl"]).content == content
        done = settle(c, {run(c, export): export})
        assert all(r["state"] == "succeeded" for r in done.values()), done
        assert c.post("/projects", json={"name": "roomy", "description": ""}).status_code == 200

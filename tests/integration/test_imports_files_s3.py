"""File imports and CSV preprocessing with files on an S3-compatible store (moto on loopback):
the worker downloads the files through presigned URLs, the cleaned copy goes back through
multipart uploads, and a `POST /imports/files` upload is a presigned part PUT."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from civica.settings import Settings
from tests.conftest import LiveServer
from tests.integration.test_imports import _sql
from tests.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, moto_endpoint, new_bucket
from tests.workers import fast_settings, wait_run, worker

__all__ = ["moto_endpoint", "worker"]


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


def _upload(c: httpx.Client, content: bytes, name: str) -> int:
    started = c.post("/files", json={"name": name}).json()
    fields = dict(started["uploadFields"])
    form: OrderedDict[str, Any] = OrderedDict(key=fields.pop("key"))
    form.update(fields)
    form["file"] = content
    assert requests.post(started["uploadUrl"], files=form, timeout=30).status_code < 300
    return int(started["id"])


def test_preprocess_and_imports_with_files_on_s3(
    live: LiveServer, worker: object, admin: httpx.Client
) -> None:
    db = int(next(d["id"] for d in admin.get("/databases").json() if d["managed"]))
    fid = _upload(admin, b"id|name\n1|ann\n2|bob\n", "people.csv")
    pp = admin.post("/files/preprocess/csv", json={"file_id": fid, "in_place": False}).json()
    run = admin.post(f"/jobs/{pp['id']}/runs").json()
    assert wait_run(admin, f"/jobs/{pp['id']}/runs/{run['id']}")["state"] == "succeeded"
    out = admin.get(f"/jobs/{pp['id']}/runs/{run['id']}/outputs").json()[0]["objectId"]
    cleaned = admin.get(f"/files/{out}").json()
    assert cleaned["detectedInfo"]["columnDelimiter"] == "pipe"
    assert httpx.get(cleaned["fileUrl"]).content == b"id|name\n1|ann\n2|bob\n"
    imp = admin.post(
        "/imports/files/csv",
        json={"source": {"file_ids": [out]}, "first_row_is_header": True,
              "column_delimiter": "pipe",
              "destination": {"schema": "public", "table": "people", "remote_host_id": db}},
    ).json()  # fmt: skip
    run = admin.post(f"/imports/files/csv/{imp['id']}/runs").json()
    assert wait_run(admin, f"/imports/files/csv/{imp['id']}/runs/{run['id']}")["state"] == (
        "succeeded"
    )
    q = _sql(admin, db, "SELECT id, name FROM public.people ORDER BY id")
    assert q["resultRows"] == [["1", "ann"], ["2", "bob"]]
    started = admin.post(
        "/imports/files",
        json={"schema": "public", "name": "more", "remote_host_id": db, "credential_id": None},
    ).json()
    assert httpx.put(started["uploadUri"], content=b"x,y\n1,2\n").status_code == 200
    run = admin.post(started["runUri"]).json()
    done = wait_run(admin, f"/imports/files/{started['id']}/runs/{run['id']}")
    assert done["state"] == "succeeded", done["error"]
    assert _sql(admin, db, "SELECT x + y FROM public.more")["resultRows"] == [["3"]]

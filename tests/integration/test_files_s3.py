"""Files on an S3-compatible store (moto in server mode on loopback): presigned POST uploads,
presigned part PUTs, presigned GETs, civica's own checks (sizes, parts, states) and the sweep."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from civica.db.models import FileRow
from civica.services import files as svc
from civica.settings import Settings
from civica.storage import file_store, transfer_signer
from civica.storage.s3 import S3Store
from tests.conftest import ADMIN_KEY, LiveServer
from tests.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, moto_endpoint, new_bucket, s3_client

__all__ = ["moto_endpoint"]

MAX_UPLOAD = 8 * 2**20
PART = 5 * 2**20  # S3's smallest part but the last


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    return new_bucket(moto_endpoint)


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str, moto_endpoint: str, bucket: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=metadata_url,
        admin_api_key=ADMIN_KEY,
        auth_cache_seconds=0,
        max_upload_bytes=MAX_UPLOAD,
        storage_url=f"s3://{bucket}/civica/files?endpoint={moto_endpoint}&region={REGION}",
        storage_access_key_id=ACCESS_KEY,
        storage_secret_access_key=SECRET_KEY,
    )


def upload(started: dict[str, Any], content: bytes, *, follow: bool = True) -> requests.Response:
    """As the public client: `key` first, every field as a file part, `file` last."""
    fields = dict(started["uploadFields"])
    form: OrderedDict[str, Any] = OrderedDict(key=fields.pop("key"))
    form.update(fields)
    form["file"] = content
    return requests.post(started["uploadUrl"], files=form, timeout=30, allow_redirects=follow)


def objects(endpoint: str, bucket: str) -> list[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def open_uploads(endpoint: str, bucket: str) -> list[str]:
    listing = s3_client(endpoint).list_multipart_uploads(Bucket=bucket)
    return [u["Key"] for u in listing.get("Uploads", [])]


def state(live: LiveServer, file_id: int) -> str:
    with live.platform.transaction() as session:
        found = session.get(FileRow, file_id)
        assert found is not None
        return found.state


def test_presigned_post_upload_and_get(
    live: LiveServer, admin: httpx.Client, moto_endpoint: str, bucket: str
) -> None:
    assert isinstance(file_store(live.platform), S3Store)
    content = b"a,b\n" + b"1,2\n" * 5000
    started = admin.post("/files", json={"name": "s3.csv"}).json()
    assert started["uploadUrl"].startswith(moto_endpoint)
    fields = started["uploadFields"]
    assert set(fields) >= {"key", "policy", "x-amz-signature", "x-amz-credential"}
    assert all(k == k.lower() for k in fields), "the public client would mangle capitals"
    assert fields["key"].startswith("civica/files/")
    r = upload(started, content)
    assert r.status_code == 204, r.text  # S3's 303, followed to civica, which recorded the file
    assert state(live, started["id"]) == "uploaded"
    info = admin.get(f"/files/{started['id']}").json()
    assert info["fileSize"] == len(content) and info["state"] == "uploaded"
    assert info["fileUrl"].startswith(moto_endpoint) and "X-Amz-Signature" in info["fileUrl"]
    assert "response-content-disposition=attachment" in info["downloadUrl"]
    got = httpx.get(info["fileUrl"])
    assert got.status_code == 200 and got.content == content
    part = httpx.get(info["fileUrl"], headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == content[:4]
    with live.platform.transaction() as session:
        found = session.get(FileRow, started["id"])
        assert found is not None
        assert (found.checksum_algorithm, found.checksum) == (
            "md5",
            hashlib.md5(content).hexdigest(),
        )
    assert objects(moto_endpoint, bucket) == [fields["key"]]


def test_an_upload_without_the_redirect_is_recorded_when_read(
    live: LiveServer, admin: httpx.Client
) -> None:
    started = admin.post("/files", json={"name": "quiet.bin"}).json()
    r = upload(started, b"no redirect followed", follow=False)
    assert r.status_code == 303
    assert state(live, started["id"]) == "pending"
    info = admin.get(f"/files/{started['id']}").json()
    assert info["state"] == "uploaded" and info["fileSize"] == 20
    # The redirect target is idempotent, and refuses tampering.
    location = r.headers["location"]
    assert httpx.get(location).status_code == 204
    assert httpx.get(location.replace("/uploaded/", "/uploaded/x")).status_code == 403


def test_multipart_upload_through_presigned_puts(
    live: LiveServer, admin: httpx.Client, moto_endpoint: str, bucket: str
) -> None:
    parts = [b"a" * PART, b"tail bytes"]
    started = admin.post("/files/multipart", json={"name": "m.bin", "num_parts": 2}).json()
    assert all(u.startswith(moto_endpoint) for u in started["uploadUrls"])
    for i in (1, 0):
        assert httpx.put(started["uploadUrls"][i], content=parts[i]).status_code == 200
    assert admin.get(f"/files/{started['id']}").json()["state"] == "pending"
    assert admin.post(f"/files/multipart/{started['id']}/complete", json={}).status_code == 204
    info = admin.get(f"/files/{started['id']}").json()
    assert info["fileSize"] == PART + 10
    assert httpx.get(info["fileUrl"]).content == b"".join(parts)
    assert open_uploads(moto_endpoint, bucket) == []
    with live.platform.transaction() as session:
        found = session.get(FileRow, started["id"])
        assert found is not None and found.checksum_algorithm == "s3-etag"


def test_s3_size_and_part_checks(
    live: LiveServer, admin: httpx.Client, moto_endpoint: str, bucket: str
) -> None:
    started = admin.post("/files/multipart", json={"name": "m.bin", "num_parts": 3}).json()
    httpx.put(started["uploadUrls"][0], content=b"a" * PART)
    r = admin.post(f"/files/multipart/{started['id']}/complete")
    assert r.status_code == 400 and "(part 2, 3)" in r.json()["errorDescription"]

    big = admin.post("/files/multipart", json={"name": "big.bin", "num_parts": 2}).json()
    httpx.put(big["uploadUrls"][0], content=b"a" * PART)
    httpx.put(big["uploadUrls"][1], content=b"b" * PART)
    r = admin.post(f"/files/multipart/{big['id']}/complete")
    assert r.status_code == 413 and "discarded" in r.json()["errorDescription"]
    assert len(open_uploads(moto_endpoint, bucket)) == 1  # the first, unfinished, one
    # A single upload over the maximum: S3 enforces the POST policy's content-length-range; a
    # store that does not is caught when civica records the object.
    single = admin.post("/files", json={"name": "huge.bin"}).json()
    r = upload(single, b"z" * (MAX_UPLOAD + 1))
    assert r.status_code == 409 and "larger than" in r.json()["errorDescription"]
    info = admin.get(f"/files/{single['id']}").json()
    assert info["state"] == "failed" and info["fileUrl"] is None
    assert single["uploadFields"]["key"] not in objects(moto_endpoint, bucket)


def test_sweep_on_s3(
    live: LiveServer, admin: httpx.Client, moto_endpoint: str, bucket: str
) -> None:
    done = admin.post("/files", json={"name": "old.csv"}).json()
    upload(done, b"old")
    multi = admin.post("/files/multipart", json={"name": "left.bin", "num_parts": 2}).json()
    httpx.put(multi["uploadUrls"][0], content=b"a" * PART)
    assert (
        len(objects(moto_endpoint, bucket)) == 1 and len(open_uploads(moto_endpoint, bucket)) == 1
    )
    later = datetime.now(UTC) + timedelta(days=31)
    with live.platform.transaction() as session:
        report = svc.sweep_files(session=session, platform=live.platform, now=later)
    assert report.expired == 2
    assert objects(moto_endpoint, bucket) == [] and open_uploads(moto_endpoint, bucket) == []
    info = admin.get(f"/files/{done['id']}").json()
    assert info["state"] == "expired" and info["fileUrl"] is None


def test_local_transfer_routes_are_off_with_s3(live: LiveServer) -> None:
    token_url = transfer_signer(live.platform).url(
        live.url, "download", "ab/" + "a" * 32, 9e9, n="x", t="text/plain", i=0
    )
    r = httpx.get(token_url)
    assert r.status_code == 404 and "S3-compatible store" in r.json()["errorDescription"]


def test_store_refusals_are_clear(live: LiveServer, admin: httpx.Client) -> None:
    small = admin.post("/files/multipart", json={"name": "s.bin", "num_parts": 2}).json()
    for url in small["uploadUrls"]:
        assert httpx.put(url, content=b"tiny").status_code == 200
    r = admin.post(f"/files/multipart/{small['id']}/complete")
    assert r.status_code == 400 and "at least 5 MiB" in r.json()["errorDescription"]

    from tests.conftest import free_port

    live.platform.extras["file_store"] = S3Store(
        "civica-nowhere",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )
    r = admin.post("/files/multipart", json={"name": "m.bin", "num_parts": 2})
    assert r.status_code == 503, r.text
    assert "could not start a multipart upload" in r.json()["errorDescription"]

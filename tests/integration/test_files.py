"""Files over HTTP on the local store: uploads (single and multipart) through civica's signed
transfer URLs, downloads with Range, expiry and the sweep, permissions, and abuse (bad names,
tampered / expired / reused URLs, oversized uploads, interrupted uploads)."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests
from sqlalchemy import func, select

from civica.api.app import create_app
from civica.db.models import FileRow
from civica.services import files as svc
from civica.settings import Settings
from civica.storage import transfer_signer
from tests.conftest import ADMIN_KEY, LiveServer

MAX_UPLOAD = 2 * 2**20


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=metadata_url,
        admin_api_key=ADMIN_KEY,
        auth_cache_seconds=0,
        max_upload_bytes=MAX_UPLOAD,
    )


def upload(started: dict[str, Any], content: bytes) -> requests.Response:
    """POST the contents the way the public client does: `key` first, every field as a file part,
    `file` last with a local temporary name."""
    fields = dict(started["uploadFields"])
    form: OrderedDict[str, Any] = OrderedDict(key=fields.pop("key"))
    form.update(fields)
    form["file"] = content
    return requests.post(started["uploadUrl"], files=form, timeout=30)


def new_file(c: httpx.Client, content: bytes, name: str = "data.csv", **body: Any) -> int:
    r = c.post("/files", json={"name": name, **body})
    assert r.status_code == 201, r.text
    assert upload(r.json(), content).status_code == 204
    return int(r.json()["id"])


def row(live: LiveServer, file_id: int) -> FileRow:
    with live.platform.transaction() as session:
        found = session.get(FileRow, file_id)
        assert found is not None
        session.expunge(found)
        return found


def store_files(live: LiveServer) -> list[str]:
    root = live.platform.settings.data_dir / "files"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def everything_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


def test_single_upload_round_trip(live: LiveServer, admin: httpx.Client) -> None:
    content = b"id,name\n1,Ana\n2,Bo\n" * 100
    r = admin.post("/files", json={"name": "people.csv", "description": "d"})
    started = r.json()
    assert r.status_code == 201 and started["fileSize"] is None
    assert started["uploadUrl"].startswith(live.url + "/transfer/upload/")
    assert list(started["uploadFields"]) == ["key"] and started["myPermissionLevel"] == "manage"
    pending = admin.get(f"/files/{started['id']}").json()
    assert pending["state"] == "pending" and pending["fileUrl"] is None
    assert "not finished" in pending["stateDescription"]

    assert upload(started, content).status_code == 204
    info = admin.get(f"/files/{started['id']}").json()
    assert info["state"] == "uploaded" and info["stateDescription"] is None
    assert info["fileSize"] == len(content) and info["name"] == "people.csv"
    assert info["author"]["username"] == "admin" and info["description"] == "d"
    assert info["detectedInfo"] == {
        "includeHeader": None, "columnDelimiter": None, "compression": None, "tableColumns": None
    }  # fmt: skip
    stored = row(live, started["id"])
    assert stored.checksum_algorithm == "sha256"
    assert stored.checksum == hashlib.sha256(content).hexdigest()

    # No auth header is needed (or used) on the download URL.
    got = httpx.get(info["fileUrl"])
    assert got.status_code == 200 and got.content == content
    assert got.headers["content-length"] == str(len(content))
    assert got.headers["content-type"].startswith("text/csv")
    assert got.headers["content-disposition"].startswith('attachment; filename="people.csv"')
    part = httpx.get(info["fileUrl"], headers={"Range": "bytes=3-9"})
    assert part.status_code == 206 and part.content == content[3:10]
    assert part.headers["content-range"] == f"bytes 3-9/{len(content)}"
    tail = httpx.get(info["fileUrl"], headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == content[-5:]
    assert httpx.get(info["fileUrl"], headers={"Range": "bytes=99999-"}).status_code == 416
    head = httpx.head(info["fileUrl"])
    assert head.status_code == 200 and head.headers["content-length"] == str(len(content))
    inline = admin.get(f"/files/{started['id']}", params={"inline": "True"}).json()
    assert httpx.get(inline["fileUrl"]).headers["content-disposition"].startswith("inline")
    assert inline["downloadUrl"] != inline["fileUrl"]


def test_names_types_and_dispositions(admin: httpx.Client) -> None:
    for name, ctype in [
        ("données 2026.csv", "text/csv"),
        ("dump.csv.gz", "application/gzip"),
        ("model.pkl", "application/octet-stream"),
        ('quo"te;x.txt', "text/plain"),
    ]:
        file_id = new_file(admin, b"x", name)
        info = admin.get(f"/files/{file_id}").json()
        assert info["name"] == name
        got = httpx.get(info["downloadUrl"])
        assert got.headers["content-type"].split(";")[0] == ctype
        disposition = got.headers["content-disposition"]
        assert disposition.startswith("attachment; filename=")
        assert "filename*=utf-8''" in disposition and '"te;' not in disposition


def test_expiry_defaults_never_and_explicit(admin: httpx.Client) -> None:
    before = datetime.now(UTC)
    default = admin.post("/files", json={"name": "a"}).json()["expiresAt"]
    expires = datetime.fromisoformat(default)
    assert timedelta(days=29, hours=23) < expires - before < timedelta(days=30, minutes=1)
    assert admin.post("/files", json={"name": "a", "expires_at": None}).json()["expiresAt"] is None
    # civis.parallel sends a naive ISO time: read as UTC.
    naive = (datetime.now(UTC) + timedelta(days=7)).replace(tzinfo=None, microsecond=0)
    got = admin.post("/files", json={"name": "a", "expiresAt": naive.isoformat()}).json()
    assert got["expiresAt"].startswith(naive.isoformat())
    r = admin.post("/files", json={"name": "a", "expires_at": "2020-12-31"})
    assert r.status_code == 400 and "expires_at must be in the future" in r.text
    r = admin.post("/files", json={"name": "a", "expires_at": "soon"})
    assert r.status_code == 400 and "expires_at" in r.json()["errorDescription"]


def test_multipart_parts_in_any_order(live: LiveServer, admin: httpx.Client) -> None:
    parts = [bytes([65 + i]) * (100_000 + i) for i in range(4)]
    r = admin.post("/files/multipart", json={"name": "big.bin", "num_parts": 4})
    assert r.status_code == 201, r.text
    started = r.json()
    assert len(started["uploadUrls"]) == 4 and started["fileSize"] is None
    for i in (3, 1, 0, 2):
        put = httpx.put(started["uploadUrls"][i], content=parts[i])
        assert put.status_code == 200, put.text
    # A part sent again before completion replaces itself.
    assert httpx.put(started["uploadUrls"][1], content=parts[1]).status_code == 200
    info = admin.get(f"/files/{started['id']}").json()
    assert info["state"] == "pending" and info["fileUrl"] is None
    assert "/complete" in info["stateDescription"]
    done = admin.post(f"/files/multipart/{started['id']}/complete", json={})
    assert done.status_code == 204, done.text
    assert admin.post(f"/files/multipart/{started['id']}/complete").status_code == 204
    info = admin.get(f"/files/{started['id']}").json()
    whole = b"".join(parts)
    assert info["fileSize"] == len(whole) and httpx.get(info["fileUrl"]).content == whole
    assert row(live, started["id"]).checksum == hashlib.sha256(whole).hexdigest()
    late = httpx.put(started["uploadUrls"][0], content=b"overwrite?")
    assert late.status_code == 409 and "already used" in late.json()["errorDescription"]
    assert not [f for f in store_files(live) if not f.startswith("objects/")]


def test_multipart_mistakes_are_clear(admin: httpx.Client) -> None:
    started = admin.post("/files/multipart", json={"name": "m", "numParts": 3}).json()
    httpx.put(started["uploadUrls"][0], content=b"one")
    r = admin.post(f"/files/multipart/{started['id']}/complete")
    assert r.status_code == 400
    assert "2 of 3 parts were not uploaded (part 2, 3)" in r.json()["errorDescription"]
    single = new_file(admin, b"x")
    r = admin.post(f"/files/multipart/{single}/complete")
    assert r.status_code == 400 and "not started with POST /files/multipart" in r.text
    for bad in (0, 10_001, "two"):
        r = admin.post("/files/multipart", json={"name": "m", "num_parts": bad})
        assert r.status_code == 400 and "num_parts" in r.json()["errorDescription"]
    r = admin.post("/files/multipart", json={"name": "m"})
    missing = r.json()["errorDescription"]
    assert r.status_code == 400 and "is required" in missing
    assert "num_parts" in missing or "numParts" in missing
    assert admin.post("/files/multipart/999/complete").status_code == 404


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "..", "a/b.csv", "a\\b", "nul\x00byte.csv", "new\nline", "x" * 10_000, ""],
)
def test_bad_names_are_refused(live: LiveServer, admin: httpx.Client, name: str) -> None:
    for path, body in (("/files", {}), ("/files/multipart", {"num_parts": 1})):
        r = admin.post(path, json={"name": name, **body})
        assert r.status_code == 400, r.text
        assert "name" in r.json()["errorDescription"]
    with live.platform.transaction() as session:
        assert session.scalar(select(func.count()).select_from(FileRow)) == 0
    r = admin.post("/files", json={"name": "ok.csv", "description": "d" * 513})
    assert r.status_code == 400 and "description" in r.json()["errorDescription"]


def test_tampered_expired_reused_and_misused_urls(
    live: LiveServer, admin: httpx.Client, tmp_path: Path
) -> None:
    before = everything_under(tmp_path)
    started = admin.post("/files", json={"name": "t.csv"}).json()
    url = started["uploadUrl"]
    base, _, token = url.rpartition("/")
    payload, _, mac = token.partition(".")
    tampered = f"{base}/{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}"
    r = upload({**started, "uploadUrl": tampered}, b"evil")
    assert r.status_code == 403 and "signature does not match" in r.json()["errorDescription"]
    for bad in (f"{base}/garbage", f"{base}/{payload}", f"{base}/{'x' * 5000}.{mac}"):
        assert upload({**started, "uploadUrl": bad}, b"evil").status_code == 403
    # Fields that do not match the URL are refused.
    r = upload({**started, "uploadFields": {"key": "../../../etc/passwd"}}, b"evil")
    assert r.status_code == 400 and '"key" field does not match' in r.json()["errorDescription"]

    assert upload(started, b"good").status_code == 204
    again = upload(started, b"overwrite")
    assert again.status_code == 409 and "already used" in again.json()["errorDescription"]
    # The same contents again (a client retrying after a lost answer) succeed, changing nothing.
    assert upload(started, b"good").status_code == 204
    info = admin.get(f"/files/{started['id']}").json()
    assert httpx.get(info["fileUrl"]).content == b"good"

    # An upload URL is not a download URL and the other way round.
    swapped = info["fileUrl"].replace("/transfer/download/", "/transfer/upload/")
    assert upload({**started, "uploadUrl": swapped}, b"x").status_code == 403
    as_download = httpx.get(url.replace("/transfer/upload/", "/transfer/download/"))
    assert as_download.status_code == 403 and "not a download URL" in as_download.text

    key = row(live, started["id"]).storage_key
    signer = transfer_signer(live.platform)
    old = signer.url(live.url, "download", key, time.time() - 1, n="t.csv", t="text/csv", i=0)
    r = httpx.get(old)
    assert r.status_code == 403 and "expired at" in r.json()["errorDescription"]
    old_upload = signer.url(live.url, "upload", key, time.time() - 1, x=MAX_UPLOAD)
    assert upload({**started, "uploadUrl": old_upload}, b"x").status_code == 403
    r = admin.get(
        f"/files/{started['id']}",
        params={"link_expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()},
    )
    assert r.status_code == 400 and "link_expires_at" in r.json()["errorDescription"]
    # Nothing was written anywhere but the store (and the metadata database).
    added = everything_under(tmp_path) - before
    assert all(p.startswith(("data/files/objects/", "data/civica.db")) for p in added), added


def _raw_form(key: str, content: bytes, boundary: str = "b0undary") -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="key"; filename="key"\r\n\r\n'
            f"{key}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="f"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def test_malformed_uploads_get_a_clear_4xx(admin: httpx.Client) -> None:
    started = admin.post("/files", json={"name": "m.csv"}).json()
    key, url = started["uploadFields"]["key"], started["uploadUrl"]
    r = httpx.post(url, content=b"raw bytes", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["errorDescription"]
    ctype = {"content-type": "multipart/form-data; boundary=b0undary"}
    r = httpx.post(url, content=_raw_form(key, b"abc")[:-10], headers=ctype)
    assert r.status_code == 400 and "ended early" in r.json()["errorDescription"]
    r = httpx.post(url, content=b"--b0undary\r\nnot a header line\r\n\r\n", headers=ctype)
    assert r.status_code == 400
    r = httpx.post(url, files={"key": (None, key)})
    assert r.status_code == 400 and 'exactly one "file" part' in r.json()["errorDescription"]
    two = httpx.post(url, files=[("key", (None, key)), ("file", b"a"), ("file", b"b")])
    assert two.status_code == 400 and "more than one" in two.json()["errorDescription"]
    r = httpx.post(url, content=_raw_form(key, b"abc"), headers=ctype)
    assert r.status_code == 204, r.text


def test_uploads_over_the_maximum_are_refused(live: LiveServer, admin: httpx.Client) -> None:
    too_big = b"z" * (MAX_UPLOAD + 1)
    started = admin.post("/files", json={"name": "big.bin"}).json()
    r = upload(started, too_big)
    assert r.status_code == 413 and "2097152 bytes allowed" in r.json()["errorDescription"]

    # Without a Content-Length (chunked), the limit holds while the body streams.
    def chunks() -> Iterator[bytes]:
        body = _raw_form(started["uploadFields"]["key"], too_big)
        for i in range(0, len(body), 256 * 1024):
            yield body[i : i + 256 * 1024]

    try:
        r = httpx.post(
            started["uploadUrl"],
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=b0undary"},
        )
        assert r.status_code == 413
    except httpx.TransportError:  # the server may close before the client finished sending
        pass
    assert admin.get(f"/files/{started['id']}").json()["state"] == "pending"

    multi = admin.post("/files/multipart", json={"name": "m.bin", "num_parts": 2}).json()
    half = MAX_UPLOAD // 2 + 10
    assert httpx.put(multi["uploadUrls"][0], content=b"a" * half).status_code == 200
    r = httpx.put(multi["uploadUrls"][1], content=b"b" * half)
    assert r.status_code == 413
    assert httpx.put(multi["uploadUrls"][1], content=b"b" * 10).status_code == 200
    assert admin.post(f"/files/multipart/{multi['id']}/complete").status_code == 204
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(
        f.startswith("objects/") for f in store_files(live)
    ):
        time.sleep(0.05)
    assert all(f.startswith("objects/") for f in store_files(live)), store_files(live)
    assert len(store_files(live)) == 1


def test_an_interrupted_upload_is_never_readable(live: LiveServer, admin: httpx.Client) -> None:
    started = admin.post("/files", json={"name": "half.bin"}).json()
    body = _raw_form(started["uploadFields"]["key"], b"q" * 1_000_000)
    url = urlsplit(started["uploadUrl"])
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(
            f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            "Content-Type: multipart/form-data; boundary=b0undary\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        sock.sendall(body[: len(body) // 2])
        time.sleep(0.3)
    deadline = time.monotonic() + 5
    while store_files(live) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store_files(live) == []
    info = admin.get(f"/files/{started['id']}").json()
    assert info["state"] == "pending" and info["fileUrl"] is None
    # The URL still works for a complete upload afterwards.
    assert upload(started, b"whole").status_code == 204


def test_permissions_shares_and_projects(live: LiveServer) -> None:
    _, owner = live.new_user("owner")
    reader_id, reader = live.new_user("reader")
    _, stranger = live.new_user("stranger")
    with live.client(owner) as c:
        file_id = new_file(c, b"secret", "s.txt")
        started = c.post("/files/multipart", json={"name": "m", "num_parts": 1}).json()
        pid = c.post("/projects", json={"name": "P", "description": ""}).json()["id"]
        assert c.put(f"/files/{file_id}/projects/{pid}").status_code == 204
        project = c.get(f"/projects/{pid}").json()
        assert project["files"][0]["fileName"] == "s.txt"
        assert project["files"][0]["fileSize"] == 6
        assert project["allObjects"][0]["objectType"] == "File"
        assert [p["id"] for p in c.get(f"/files/{file_id}/projects").json()] == [pid]
        r = c.put(
            f"/files/{file_id}/shares/users",
            json={"user_ids": [reader_id], "permission_level": "read"},
        )
        assert r.json()["readers"]["users"] == [{"id": reader_id, "name": "reader"}]
        assert c.get(f"/files/{file_id}/shares").json()[0]["owners"]["users"][0]["name"] == "owner"
    with live.client(stranger) as c:
        assert c.get(f"/files/{file_id}").status_code == 404
        assert c.post(f"/files/multipart/{started['id']}/complete").status_code == 404
    with live.client(reader) as c:
        info = c.get(f"/files/{file_id}").json()
        assert (
            info["myPermissionLevel"] == "read" and httpx.get(info["fileUrl"]).content == b"secret"
        )
        r = c.put(f"/files/{file_id}/projects/{pid}")
        assert r.status_code in (403, 404)
        r = c.put(
            f"/files/{file_id}/shares/users", json={"user_ids": [1], "permission_level": "read"}
        )
        assert r.status_code == 403
    with live.client(owner) as c:
        assert c.delete(f"/files/{file_id}/projects/{pid}").status_code == 204
        assert c.get(f"/projects/{pid}").json()["files"] == []
        assert c.delete(f"/files/{file_id}/shares/users/{reader_id}").status_code == 204
    with live.client(reader) as c:
        assert c.get(f"/files/{file_id}").status_code == 404


def test_sweep_removes_expired_contents(live: LiveServer, admin: httpx.Client) -> None:
    soon = new_file(admin, b"soon gone", "soon.txt")
    forever = new_file(admin, b"kept", "kept.txt", expires_at=None)
    url = admin.get(f"/files/{soon}").json()["fileUrl"]
    later = datetime.now(UTC) + timedelta(days=31)
    with live.platform.transaction() as session:
        report = svc.sweep_files(session=session, platform=live.platform, now=later)
    assert report.expired == 1
    assert len(store_files(live)) == 1
    with live.platform.transaction() as session:
        assert svc.sweep_files(session=session, platform=live.platform, now=later).expired == 0
    info = admin.get(f"/files/{soon}").json()
    assert info["state"] == "expired" and info["fileUrl"] is None and info["downloadUrl"] is None
    assert "expired at" in info["stateDescription"]
    r = httpx.get(url)
    assert r.status_code == 404 and "expired" in r.json()["errorDescription"]
    assert httpx.get(admin.get(f"/files/{forever}").json()["fileUrl"]).content == b"kept"


def test_a_file_past_its_expiry_reads_as_expired_before_the_sweep(
    live: LiveServer, admin: httpx.Client
) -> None:
    file_id = new_file(admin, b"x")
    with live.platform.transaction() as session:
        found = session.get(FileRow, file_id)
        assert found is not None
        found.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    info = admin.get(f"/files/{file_id}").json()
    assert info["state"] == "expired" and info["fileUrl"] is None


def test_sweep_gives_up_abandoned_uploads(live: LiveServer, admin: httpx.Client) -> None:
    single = admin.post("/files", json={"name": "never.csv"}).json()
    multi = admin.post("/files/multipart", json={"name": "m", "num_parts": 2}).json()
    assert httpx.put(multi["uploadUrls"][0], content=b"part").status_code == 200
    with live.platform.transaction() as session:
        report = svc.sweep_files(session=session, platform=live.platform)
    assert report.failed == 0  # still within the upload URLs' lifetime
    later = datetime.now(UTC) + timedelta(hours=14)
    with live.platform.transaction() as session:
        report = svc.sweep_files(session=session, platform=live.platform, now=later)
    assert report.failed == 2
    for file_id in (single["id"], multi["id"]):
        info = admin.get(f"/files/{file_id}").json()
        assert info["state"] == "failed" and "did not finish" in info["stateDescription"]
    assert store_files(live) == []
    assert upload(single, b"late").status_code == 410


def test_public_url_bases_the_urls(live: LiveServer, admin: httpx.Client) -> None:
    live.platform.settings.public_url = "https://files.example.org/"
    try:
        started = admin.post("/files", json={"name": "p.csv"}).json()
        assert started["uploadUrl"].startswith("https://files.example.org/transfer/upload/")
    finally:
        live.platform.settings.public_url = None


def test_uploads_are_exempt_from_the_json_body_limit(live: LiveServer, admin: httpx.Client) -> None:
    started = admin.post("/files", json={"name": "big.bin"}).json()
    content = b"y" * (MAX_UPLOAD - 10)
    assert upload(started, content).status_code == 204
    assert httpx.get(admin.get(f"/files/{started['id']}").json()["fileUrl"]).content == content


def test_the_app_lifespan_runs_the_sweep(live: LiveServer, admin: httpx.Client) -> None:
    live.platform.settings.file_sweep_seconds = 0.05
    app = create_app(live.platform)
    file_id = new_file(admin, b"x")
    with live.platform.transaction() as session:
        found = session.get(FileRow, file_id)
        assert found is not None
        found.expires_at = datetime.now(UTC) - timedelta(seconds=1)

    def state() -> str:
        return row(live, file_id).state

    async def serve_briefly() -> None:
        async with app.router.lifespan_context(app):
            deadline = time.monotonic() + 5
            while state() != "expired" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)

    asyncio.run(serve_briefly())
    assert state() == "expired" and store_files(live) == []


def test_download_headers_keep_pages_inert(admin: httpx.Client) -> None:
    file_id = new_file(admin, b"<script>alert(1)</script>", "page.html")
    info = admin.get(f"/files/{file_id}", params={"inline": "true"}).json()
    got = httpx.get(info["fileUrl"])
    assert got.headers["content-security-policy"] == "sandbox"
    assert got.headers["x-content-type-options"] == "nosniff"
    started = admin.post("/files", json={"name": "b.csv"}).json()
    r = httpx.post(
        started["uploadUrl"],
        content=b"x",
        headers={"content-type": "multipart/form-data; boundary=" + "b" * 100},
    )
    assert r.status_code == 400 and "boundary" in r.json()["errorDescription"]


def _upload_dir(live: LiveServer) -> Path:
    (folder,) = (live.platform.settings.data_dir / "files" / ".multipart").iterdir()
    return folder


def _interrupted_put(url: str, content: bytes) -> None:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(
            f"PUT {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Length: {len(content)}\r\n\r\n".encode()
        )
        sock.sendall(content[: len(content) // 2])
        time.sleep(0.2)


@pytest.mark.parametrize("order", [(2, 1, 4, 3), (4, 3, 2, 1)], ids=["mixed", "last-first"])
def test_uniform_parts_are_written_in_place(
    live: LiveServer, admin: httpx.Client, order: tuple[int, ...]
) -> None:
    size = 200_000
    parts = [bytes([97 + i]) * size for i in range(3)] + [b"z" * 1234]
    started = admin.post("/files/multipart", json={"name": "u.bin", "num_parts": 4}).json()
    for n in order:
        assert httpx.put(started["uploadUrls"][n - 1], content=parts[n - 1]).status_code == 200
    names = {p.name for p in _upload_dir(live).iterdir()}
    assert "data" in names and "00002.in" in names  # in place: no copy when completing
    # A part sent again, and one cut off half way (it then counts as not sent).
    assert httpx.put(started["uploadUrls"][0], content=parts[0]).status_code == 200
    _interrupted_put(started["uploadUrls"][1], parts[1])
    deadline = time.monotonic() + 5
    while (_upload_dir(live) / "00002.in").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    r = admin.post(f"/files/multipart/{started['id']}/complete")
    assert r.status_code == 400 and "(part 2)" in r.json()["errorDescription"]
    assert httpx.put(started["uploadUrls"][1], content=parts[1]).status_code == 200
    assert admin.post(f"/files/multipart/{started['id']}/complete").status_code == 204
    whole = b"".join(parts)
    info = admin.get(f"/files/{started['id']}").json()
    assert info["fileSize"] == len(whole) and httpx.get(info["fileUrl"]).content == whole
    assert row(live, started["id"]).checksum == hashlib.sha256(whole).hexdigest()
    assert all(f.startswith("objects/") for f in store_files(live))


def test_parts_of_uneven_sizes_are_joined_by_copy(live: LiveServer, admin: httpx.Client) -> None:
    parts = [b"a" * 300_000, b"b" * 100_000, b"c" * 300_000, b"d" * 10]
    started = admin.post("/files/multipart", json={"name": "odd.bin", "num_parts": 4}).json()
    for n in (1, 3, 2):
        assert httpx.put(started["uploadUrls"][n - 1], content=parts[n - 1]).status_code == 200
    assert "00003.in" in {p.name for p in _upload_dir(live).iterdir()}  # placed for 300_000 each
    # Chunked, without a Content-Length: kept aside, copied in when completing.
    assert httpx.put(started["uploadUrls"][3], content=iter([parts[3]])).status_code == 200
    assert admin.post(f"/files/multipart/{started['id']}/complete").status_code == 204
    whole = b"".join(parts)
    assert httpx.get(admin.get(f"/files/{started['id']}").json()["fileUrl"]).content == whole
    assert row(live, started["id"]).checksum == hashlib.sha256(whole).hexdigest()
    assert all(f.startswith("objects/") for f in store_files(live))

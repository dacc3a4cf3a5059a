"""The public `civis` client's file helpers against civica, on the local store and on S3 (moto):
byte-for-byte round trips (single upload, and the multipart path for a 200 MiB file), expiry,
dataframes, shares and projects."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import civis
import pytest
from civis.base import CivisAPIError, EmptyResultError

from civica.services import files as files_svc
from civica.settings import Settings
from tests.conftest import ADMIN_KEY, LiveServer
from tests.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, moto_endpoint, new_bucket

__all__ = ["moto_endpoint"]

BIG = 200 * 2**20


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(
    tmp_path: Path, metadata_url: str, backend: str, request: pytest.FixtureRequest
) -> Settings:
    storage_url = None
    if backend == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        storage_url = f"s3://{new_bucket(endpoint)}/files?endpoint={endpoint}&region={REGION}"
    return Settings(
        data_dir=tmp_path / "data",
        database_url=metadata_url,
        admin_api_key=ADMIN_KEY,
        auth_cache_seconds=0,
        storage_url=storage_url,
        storage_access_key_id=ACCESS_KEY,
        storage_secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def client(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> civis.APIClient:
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    return civis.APIClient(api_key=ADMIN_KEY, force_refresh_api_spec=True)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """200 MiB of random bytes (made once per module, never committed)."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    block = os.urandom(2**20)
    with open(path, "wb") as fh:
        for i in range(BIG // 2**20):
            fh.write(block[i:] + block[:i])
    yield path
    path.unlink(missing_ok=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * 2**20):
            h.update(chunk)
    return h.hexdigest()


def test_small_file_round_trip(client: civis.APIClient, tmp_path: Path) -> None:
    data = os.urandom(300_000) + b"\x00\r\n tail"
    src = tmp_path / "small.bin"
    src.write_bytes(data)
    file_id = civis.io.file_to_civis(str(src), "small.bin", client=client)
    out = io.BytesIO()
    civis.io.civis_to_file(file_id, out, client=client)
    assert out.getvalue() == data
    info = client.files.get(file_id)
    assert info.name == "small.bin" and info.file_size == len(data)
    assert info.expires_at is not None
    # From a buffer, with an explicit "never expires" and a description.
    file_id = civis.io.file_to_civis(
        io.BytesIO(b"a,b\n1,2\n"), "t.csv", expires_at=None, description="d", client=client
    )
    info = client.files.get(file_id)
    assert info.expires_at is None and info.description == "d"
    dest = tmp_path / "t.csv"
    civis.io.civis_to_file(file_id, str(dest), client=client)
    assert dest.read_bytes() == b"a,b\n1,2\n"


@pytest.mark.parametrize("metadata_url", ["sqlite"], indirect=True)
def test_200_mib_multipart_round_trip(
    client: civis.APIClient, big_file: Path, tmp_path: Path
) -> None:
    file_id = civis.io.file_to_civis(str(big_file), "big.bin", client=client)
    dest = tmp_path / "back.bin"
    civis.io.civis_to_file(file_id, str(dest), client=client)
    assert dest.stat().st_size == BIG
    assert sha256(dest) == sha256(big_file)
    assert client.files.get(file_id).file_size == BIG


def test_expired_file_raises_empty_result(live: LiveServer, client: civis.APIClient) -> None:
    file_id = civis.io.file_to_civis(io.BytesIO(b"old"), "old.txt", client=client)
    with live.platform.transaction() as session:
        report = files_svc.sweep_files(
            session=session, platform=live.platform, now=datetime.now(UTC) + timedelta(days=31)
        )
    assert report.expired == 1
    info = client.files.get(file_id)
    assert info.file_url is None and info.state == "expired"
    with pytest.raises(EmptyResultError):
        civis.io.civis_to_file(file_id, io.BytesIO(), client=client)


def test_dataframes(client: civis.APIClient) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    file_id = civis.io.dataframe_to_file(df, name="frame.csv", client=client, index=False)
    back = civis.io.file_to_dataframe(file_id, client=client)
    assert back.equals(df)


@pytest.mark.parametrize("metadata_url", ["sqlite"], indirect=True)
def test_shares_and_projects_through_the_client(live: LiveServer, client: civis.APIClient) -> None:
    uid, key = live.new_user("reader")
    file_id = civis.io.file_to_civis(io.BytesIO(b"shared"), "shared.txt", client=client)
    shares = client.files.put_shares_users(file_id, [uid], "read")
    assert [u.id for u in shares.readers.users] == [uid]
    project = client.projects.post("P", "files project")
    client.files.put_projects(file_id, project.id)
    assert [p.id for p in client.files.list_projects(file_id)] == [project.id]
    entry = client.projects.get(project.id).files[0]
    assert (entry.id, entry.file_name, entry.file_size) == (file_id, "shared.txt", 6)
    reader = civis.APIClient(api_key=key, force_refresh_api_spec=True)
    out = io.BytesIO()
    civis.io.civis_to_file(file_id, out, client=reader)
    assert out.getvalue() == b"shared"
    with pytest.raises(CivisAPIError) as err:
        reader.files.put_projects(file_id, project.id)
    assert err.value.status_code in (403, 404)
    client.files.delete_projects(file_id, project.id)
    client.files.delete_shares_users(file_id, uid)
    with pytest.raises(CivisAPIError) as err:
        reader.files.get(file_id)
    assert err.value.status_code == 404

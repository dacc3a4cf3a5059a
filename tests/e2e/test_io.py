"""civica.io against `civica serve` as a real process: files and dataframes up and down, single and
multipart, with the progress bar, and a clear error for contents that cannot be read."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import civica.io
from civica.client import APIClient
from tests.e2e.conftest import Served, start_server, stop_server

KEY = "io-e2e-admin-key-0123456789abcdef"


@pytest.fixture
def server(tmp_path: Path, serve_env: dict[str, str]) -> Iterator[Served]:
    srv = start_server(tmp_path / "data", dict(serve_env, CIVICA_ADMIN_API_KEY=KEY))
    yield srv
    stop_server(srv)


@pytest.fixture
def client(server: Served) -> Iterator[APIClient]:
    with APIClient(api_key=KEY, api_endpoint=server.url) as c:
        yield c


def test_files_and_dataframes_up_and_down(client: APIClient, tmp_path: Path) -> None:
    src = tmp_path / "report.csv"
    src.write_bytes(b"a,b\n" + os.urandom(100_000))
    file_id = civica.io.file_to_civica(src, client=client)
    info = client.files.get(file_id)
    assert info.name == "report.csv" and info.file_size == src.stat().st_size
    dest = tmp_path / "back.csv"
    civica.io.civica_to_file(file_id, dest, client=client)
    assert dest.read_bytes() == src.read_bytes()

    text_id = civica.io.file_to_civica(
        io.StringIO("héllo\n"), "t.txt", expires_at=None, description="text", client=client
    )
    info = client.files.get(text_id)
    assert info.expires_at is None and info.description == "text"
    out = io.BytesIO()
    civica.io.civica_to_file(text_id, out, client=client)
    assert out.getvalue() == "héllo\n".encode()

    when = datetime.now(UTC) + timedelta(days=2)
    with open(src, "rb") as fh:
        opened = civica.io.file_to_civica(fh, expires_at=when, client=client)
    assert client.files.get(opened).name == "report.csv"
    assert client.files.get(opened).expires_at.startswith(when.strftime("%Y-%m-%dT%H:%M"))
    with pytest.raises(TypeError, match="name"):
        civica.io.file_to_civica(io.BytesIO(b"x"), client=client)

    pending = client.files.post("never-sent.csv")
    with pytest.raises(civica.io.FileUnavailableError, match="upload is not finished"):
        civica.io.civica_to_file(pending.id, io.BytesIO(), client=client)

    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"n": [1, 2, 3], "s": ["a", "b", "c"]})
    file_id = civica.io.dataframe_to_file(df, "frame.csv", client=client)
    assert civica.io.file_to_dataframe(file_id, client=client).equals(df)
    gz_id = civica.io.dataframe_to_file(df, "frame.csv.gz", client=client, compression="gzip")
    assert civica.io.file_to_dataframe(gz_id, client=client).equals(df)


def test_multipart_with_progress(
    client: APIClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "parts.bin"
    src.write_bytes(os.urandom(12 * 2**20 + 3))
    file_id = civica.io.file_to_civica(
        src, "parts.bin", client=client, progress=True, multipart_threshold=5 * 2**20
    )
    assert client.files.get(file_id).file_size == src.stat().st_size
    dest = tmp_path / "parts.out"
    civica.io.civica_to_file(file_id, dest, client=client, progress=True)
    assert dest.read_bytes() == src.read_bytes()
    err = capsys.readouterr().err
    assert "upload parts.bin" in err and "download parts.bin" in err and "100%" in err

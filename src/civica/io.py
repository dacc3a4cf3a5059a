"""Moving files and dataframes to and from civica with civica's own client.

    import civica.io
    file_id = civica.io.file_to_civica("survey.csv")            # name defaults to the base name
    civica.io.civica_to_file(file_id, "copy.csv")
    df = civica.io.file_to_dataframe(file_id)

The same protocol as the public `civis.io` helpers (and the same server URLs): files up to 50 MiB
go up in one form POST, bigger ones in parts PUT by 4 threads, then completed. Transfers stream
from and to disk, and show a progress bar on a terminal for large files.
"""

from __future__ import annotations

import importlib
import io
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import httpx

from civica.client import APIClient, APIError

__all__ = [
    "FileUnavailableError",
    "civica_to_file",
    "dataframe_to_file",
    "file_to_civica",
    "file_to_dataframe",
]

MULTIPART_THRESHOLD = 50 * 2**20  # as the public client: larger files go up in parts
MIN_PART_SIZE = 5 * 2**20
MAX_THREADS = 4
CHUNK = 1024 * 1024
PROGRESS_MIN_BYTES = 8 * 2**20
ATTEMPTS = 3
DEFAULT = "DEFAULT"  # expires_at left out: the server's 30 days
_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
_COMPRESSION = {".gz": "gzip", ".xz": "xz", ".bz2": "bz2", ".zip": "zip", ".zst": "zstd"}

PathLike = str | os.PathLike[str]


class FileUnavailableError(LookupError):
    """The file exists but its contents cannot be read (not uploaded yet, or expired)."""


# -- progress -------------------------------------------------------------------------------------


class _Progress:
    """A one-line progress bar on stderr; silent unless enabled. Thread-safe."""

    def __init__(self, label: str, total: int | None, enabled: bool | None) -> None:
        if enabled is None:
            enabled = bool(total and total >= PROGRESS_MIN_BYTES) and sys.stderr.isatty()
        self.enabled = enabled
        self.label = label
        self.total = total
        self.done = 0
        self._start = time.monotonic()
        self._shown = 0.0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self._shown >= 0.1:
                self._shown = now
                self._draw(now)

    def _draw(self, now: float, end: str = "") -> None:
        mib = self.done / 2**20
        rate = mib / max(now - self._start, 1e-6)
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 24)
            text = f"{self.label} [{bar:<24}] {share:4.0%} {mib:,.1f}/{self.total / 2**20:,.1f} MiB"
        else:
            text = f"{self.label} {mib:,.1f} MiB"
        sys.stderr.write(f"\r{text}  {rate:,.1f} MiB/s{end}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            with self._lock:
                self._draw(time.monotonic(), end="\n")


class _CountingReader(io.RawIOBase):
    """A read-only view of a binary file that reports what is read to a progress bar."""

    def __init__(self, raw: BinaryIO, progress: _Progress) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._progress.add(len(data))
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


# -- upload ---------------------------------------------------------------------------------------


def _expiry_arg(expires_at: str | date | None) -> dict[str, Any]:
    if isinstance(expires_at, str) and expires_at == DEFAULT:
        return {}
    if isinstance(expires_at, date):  # datetime is a date too
        return {"expires_at": expires_at.isoformat()}
    return {"expires_at": expires_at}


def _check_ok(response: httpx.Response) -> None:
    if not response.is_success:
        response.read()
        raise APIError(response)


def _single_upload(
    client: APIClient,
    fh: BinaryIO,
    size: int,
    name: str,
    kwargs: dict[str, Any],
    progress: _Progress,
) -> int:
    started = client.files.post(name, **kwargs)
    fields = dict(started.upload_fields)
    form = {"key": fields.pop("key")}
    form.update(fields)
    origin = fh.tell()
    with httpx.Client(timeout=_TIMEOUT) as http:
        for attempt in range(ATTEMPTS):
            fh.seek(origin)
            reader = _CountingReader(fh, progress)
            try:
                response = http.post(
                    started.upload_url,
                    data=form,
                    files={"file": (name, cast(IO[bytes], reader), "application/octet-stream")},
                    follow_redirects=True,
                )
            except httpx.TransportError:
                if attempt == ATTEMPTS - 1:
                    raise
                continue
            if response.status_code < 500 or attempt == ATTEMPTS - 1:
                break
        _check_ok(response)
    return int(started.id)


def _read_range(fd: int, offset: int, length: int, progress: _Progress) -> Iterator[bytes]:
    end = offset + length
    while offset < end:
        data = os.pread(fd, min(CHUNK, end - offset), offset)
        if not data:
            raise OSError("the file got shorter while it was uploaded")
        offset += len(data)
        progress.add(len(data))
        yield data


def _multipart_upload(
    client: APIClient,
    path: Path,
    size: int,
    name: str,
    kwargs: dict[str, Any],
    progress: _Progress,
) -> int:
    part_size = max(int(math.sqrt(MIN_PART_SIZE) * math.sqrt(size)), MIN_PART_SIZE)
    num_parts = math.ceil(size / part_size)
    started = client.files.post_multipart(name=name, num_parts=num_parts, **kwargs)
    urls = list(started.upload_urls)
    if len(urls) != num_parts:
        raise ValueError(f"the server returned {len(urls)} upload URLs for {num_parts} parts")
    fd = os.open(path, os.O_RDONLY)
    local = threading.local()
    clients: list[httpx.Client] = []
    clients_lock = threading.Lock()

    def put(item: tuple[int, str]) -> None:
        index, url = item
        offset = index * part_size
        length = min(part_size, size - offset)
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = httpx.Client(timeout=_TIMEOUT)
            with clients_lock:
                clients.append(http)
        for attempt in range(ATTEMPTS):
            try:
                response = http.put(
                    url,
                    content=_read_range(fd, offset, length, progress),
                    headers={"Content-Length": str(length)},
                )
            except httpx.TransportError:
                if attempt == ATTEMPTS - 1:
                    raise
                continue
            if response.status_code < 500 or attempt == ATTEMPTS - 1:
                break
        _check_ok(response)

    try:
        with ThreadPoolExecutor(MAX_THREADS) as pool:
            list(pool.map(put, enumerate(urls)))
    finally:
        os.close(fd)
        for http in clients:
            http.close()
    client.files.post_multipart_complete(started.id)
    return int(started.id)


def file_to_civica(
    buf_or_path: BinaryIO | IO[str] | PathLike,
    name: str | None = None,
    *,
    expires_at: str | date | None = DEFAULT,
    description: str | None = None,
    client: APIClient | None = None,
    progress: bool | None = None,
    multipart_threshold: int = MULTIPART_THRESHOLD,
) -> int:
    """Upload a file (a path or an open file) and return the new file's id.

    `name` defaults to the path's base name (or the open file's). `expires_at` is left to the
    server's 30 days unless given: a date/datetime or ISO string, or None to keep the file
    forever. `progress` forces the progress bar on or off (default: on for large transfers when
    stderr is a terminal). Files over `multipart_threshold` bytes go up in parts.
    """
    if name is None:
        source = buf_or_path if isinstance(buf_or_path, str | os.PathLike) else None
        source = source or getattr(buf_or_path, "name", None)
        if not isinstance(source, str | os.PathLike):
            raise TypeError("the name cannot be inferred from this buffer; pass name=...")
        name = os.path.basename(os.fspath(source))
    kwargs = _expiry_arg(expires_at)
    if description is not None:
        kwargs["description"] = description
    own_client = client is None
    api = client or APIClient()
    try:
        if isinstance(buf_or_path, str | os.PathLike):
            path = Path(buf_or_path)
            with open(path, "rb") as fh:
                return _upload(api, fh, path, name, kwargs, progress, multipart_threshold)
        if isinstance(buf_or_path, io.TextIOBase) or not _is_plain_file(buf_or_path):
            with tempfile.TemporaryDirectory(prefix="civica-upload-") as tmp:
                spool = Path(tmp) / "upload"
                if isinstance(buf_or_path.read(0), str):
                    with open(spool, "w", encoding="utf-8", newline="") as text:
                        shutil.copyfileobj(cast(IO[str], buf_or_path), text, CHUNK)
                else:
                    with open(spool, "wb") as out:
                        shutil.copyfileobj(cast(IO[bytes], buf_or_path), out, CHUNK)
                with open(spool, "rb") as fh:
                    return _upload(api, fh, spool, name, kwargs, progress, multipart_threshold)
        plain = cast(BinaryIO, buf_or_path)
        return _upload(api, plain, Path(plain.name), name, kwargs, progress, multipart_threshold)
    finally:
        if own_client:
            api.close()


def _is_plain_file(buf: Any) -> bool:
    """An on-disk binary file at position 0, which parts can be read from by path."""
    try:
        return (
            isinstance(buf, io.BufferedReader)
            and isinstance(buf.name, str)
            and os.path.isfile(buf.name)
            and buf.tell() == 0
        )
    except (OSError, ValueError):
        return False


def _upload(
    api: APIClient,
    fh: BinaryIO,
    path: Path,
    name: str,
    kwargs: dict[str, Any],
    progress: bool | None,
    threshold: int,
) -> int:
    size = os.fstat(fh.fileno()).st_size
    bar = _Progress(f"upload {name}", size, progress)
    try:
        if size > threshold:
            return _multipart_upload(api, path, size, name, kwargs, bar)
        return _single_upload(api, fh, size, name, kwargs, bar)
    finally:
        bar.close()


# -- download -------------------------------------------------------------------------------------


def _file_url(api: APIClient, file_id: int) -> tuple[str, Any]:
    info = api.files.get(file_id)
    url = info.get("file_url")
    if not url:
        why = info.get("state_description") or "it may have expired"
        raise FileUnavailableError(f"file {file_id} cannot be read: {why}")
    return str(url), info


def civica_to_file(
    file_id: int,
    buf_or_path: BinaryIO | PathLike,
    *,
    client: APIClient | None = None,
    progress: bool | None = None,
) -> None:
    """Download a file's contents into a path or an open binary file. An interrupted transfer
    resumes where it stopped (HTTP Range); a short one raises OSError."""
    own_client = client is None
    api = client or APIClient()
    try:
        url, info = _file_url(api, file_id)
        size = info.get("file_size")
        if isinstance(buf_or_path, str | os.PathLike):
            with open(buf_or_path, "wb") as out:
                _download(url, out, size, f"download {info.get('name')}", progress)
        else:
            _download(url, buf_or_path, size, f"download {info.get('name')}", progress)
            buf_or_path.flush()
    finally:
        if own_client:
            api.close()


def _download(url: str, out: BinaryIO, size: int | None, label: str, progress: bool | None) -> None:
    bar = _Progress(label, size, progress)
    got = 0
    try:
        with httpx.Client(timeout=_TIMEOUT) as http:
            for attempt in range(ATTEMPTS):
                headers = {"Range": f"bytes={got}-"} if got else {}
                try:
                    with http.stream("GET", url, headers=headers) as response:
                        _check_ok(response)
                        if got and response.status_code != 206:
                            raise OSError("the server cannot resume this download")
                        for chunk in response.iter_bytes(CHUNK):
                            out.write(chunk)
                            got += len(chunk)
                            bar.add(len(chunk))
                    break
                except httpx.TransportError:
                    if attempt == ATTEMPTS - 1:
                        raise
    finally:
        bar.close()
    if size is not None and got != size:
        raise OSError(f"the download stopped after {got} of {size} bytes")


# -- dataframes -----------------------------------------------------------------------------------


def dataframe_to_file(
    df: Any,
    name: str = "data.csv",
    *,
    expires_at: str | date | None = DEFAULT,
    description: str | None = None,
    client: APIClient | None = None,
    progress: bool | None = None,
    **to_csv_kwargs: Any,
) -> int:
    """Store a pandas DataFrame as a CSV file (without the index unless `index=True`)."""
    to_csv_kwargs.setdefault("index", False)
    with tempfile.TemporaryDirectory(prefix="civica-df-") as tmp:
        path = Path(tmp) / "data"
        df.to_csv(path, **to_csv_kwargs)
        return file_to_civica(
            path,
            name,
            expires_at=expires_at,
            description=description,
            client=client,
            progress=progress,
        )


def file_to_dataframe(
    file_id: int,
    *,
    compression: str | None = "infer",
    client: APIClient | None = None,
    progress: bool | None = None,
    **read_csv_kwargs: Any,
) -> Any:
    """Read a CSV file into a pandas DataFrame; compression follows the file's name (`.gz`...)
    unless given."""
    pd = importlib.import_module("pandas")

    own_client = client is None
    api = client or APIClient()
    try:
        url, info = _file_url(api, file_id)
        if compression == "infer":
            ext = os.path.splitext(str(info.get("name") or ""))[1].lower()
            compression = _COMPRESSION.get(ext)
        with tempfile.TemporaryFile() as buf:
            _download(url, buf, info.get("file_size"), f"download {info.get('name')}", progress)
            buf.seek(0)
            return pd.read_csv(buf, compression=compression, **read_csv_kwargs)
    finally:
        if own_client:
            api.close()

"""File transfer benchmark: civica's local store against a bare loopback HTTP transfer.

One file of CIVICA_BENCH_FILE_MB MiB (1024 by default) goes up and down:

- through civica (`civica serve`, local store), with civica.io: a multipart upload (4 threads,
  as the public client does for files over 50 MiB) and a streaming download of the signed URL;
- through a bare Starlette app served by uvicorn the same way, that streams one PUT body to disk
  and serves the file back with FileResponse: the floor any Python HTTP server pays.

Both servers run at once and the transfers alternate (CIVICA_BENCH_FILE_ROUNDS rounds, 2 by
default), keeping each one's best time, so that other load on the machine skews neither side.
Printed: throughput each way, the ratio to the bare transfer (target >= 0.7) and how much the
civica server's resident memory grew at its peak (target < 100 MiB). Run alone with
`python -m benchmarks.files`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

KEY = "bench-files-admin-key-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent
RATIO_TARGET = 0.7
RSS_TARGET_MIB = 100
CHUNK = 1024 * 1024

# -- the bare peer --------------------------------------------------------------------------------

BARE_DIR = Path(os.environ.get("CIVICA_BENCH_BARE_DIR", tempfile.gettempdir()))


async def _put(request: Request) -> Response:
    path = BARE_DIR / "blob"
    with open(path, "wb") as fh:
        async for chunk in request.stream():
            await anyio.to_thread.run_sync(fh.write, chunk)
    return Response(status_code=204)


async def _get(_request: Request) -> FileResponse:
    return FileResponse(BARE_DIR / "blob", media_type="application/octet-stream")


bare_app = Starlette(routes=[Route("/blob", _put, methods=["PUT"]), Route("/blob", _get)])


# -- measuring ------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


@contextmanager
def _server(cmd: list[str], env: dict[str, str], probe: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(probe, timeout=2)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd} did not come up") from None
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _make_file(path: Path, mib: int) -> str:
    block = os.urandom(CHUNK)
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for i in range(mib):
            data = block[i % CHUNK :] + block[: i % CHUNK]
            fh.write(data)
            digest.update(data)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while data := fh.read(4 * CHUNK):
            digest.update(data)
    return digest.hexdigest()


def _timed(fn: object, *args: object, **kwargs: object) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - start


def _bare_upload(url: str, path: Path) -> None:
    def body() -> Iterator[bytes]:
        with open(path, "rb") as fh:
            while data := fh.read(CHUNK):
                yield data

    size = str(path.stat().st_size)
    with httpx.Client(timeout=600) as http:
        http.put(url, content=body(), headers={"Content-Length": size}).raise_for_status()


def _bare_download(url: str, dest: Path) -> None:
    with httpx.Client(timeout=600) as http, http.stream("GET", url) as r, open(dest, "wb") as out:
        r.raise_for_status()
        for data in r.iter_bytes(CHUNK):
            out.write(data)


def run(mib: int, rounds: int = 2) -> list[str]:
    """Measure both transfers of a `mib` MiB file, alternating `rounds` times (the best time of
    each is kept: other load on the machine only ever slows a transfer down); returns the lines
    to print."""
    from civica.client import APIClient
    from civica.io import civica_to_file, file_to_civica

    py = sys.executable
    flags = ["--log-level", "warning", "--no-access-log"]
    times: dict[str, list[float]] = {"bare up": [], "bare down": [], "up": [], "down": []}
    with tempfile.TemporaryDirectory(prefix="civica-bench-files-") as tmp:
        work = Path(tmp)
        src, back = work / "source.bin", work / "back.bin"
        digest = _make_file(src, mib)
        size_mib = src.stat().st_size / 2**20
        bare_dir = work / "bare"
        bare_dir.mkdir()
        bare_port, civica_port = _free_port(), _free_port()
        bare_cmd = [
            py, "-m", "uvicorn", "benchmarks.files:bare_app", "--port", str(bare_port), *flags,
        ]  # fmt: skip
        civica_cmd = [
            py, "-m", "civica.cli", "serve", "--data-dir", str(work / "civica"),
            "--port", str(civica_port), *flags,
        ]  # fmt: skip
        url = f"http://127.0.0.1:{bare_port}/blob"
        base = f"http://127.0.0.1:{civica_port}"
        with (
            _server(bare_cmd, {"CIVICA_BENCH_BARE_DIR": str(bare_dir)}, url + "/probe"),
            _server(civica_cmd, {"CIVICA_ADMIN_API_KEY": KEY}, base + "/users/me") as proc,
            APIClient(api_key=KEY, api_endpoint=base) as client,
        ):
            rss_before = _rss_kib(proc.pid, "VmRSS")
            for _ in range(rounds):
                times["bare up"].append(_timed(_bare_upload, url, src))
                times["bare down"].append(_timed(_bare_download, url, back))
                assert _sha256(back) == digest, "the bare transfer changed the bytes"
                back.unlink()
                (bare_dir / "blob").unlink()

                start = time.perf_counter()
                file_id = file_to_civica(src, "source.bin", client=client, progress=False)
                times["up"].append(time.perf_counter() - start)
                times["down"].append(
                    _timed(civica_to_file, file_id, back, client=client, progress=False)
                )
                assert _sha256(back) == digest, "civica changed the bytes"
                back.unlink()
            rss_peak = _rss_kib(proc.pid, "VmHWM")

    best = {name: min(values) for name, values in times.items()}
    growth = (rss_peak - rss_before) / 1024
    up_ratio, down_ratio = best["bare up"] / best["up"], best["bare down"] / best["down"]
    ok = min(up_ratio, down_ratio) >= RATIO_TARGET and growth < RSS_TARGET_MIB

    def rate(name: str) -> str:
        return f"{size_mib / best[name]:>10.0f}"

    return [
        f"\nFile transfer of {size_mib:,.0f} MiB on loopback (local store), MiB/s, best of "
        f"{rounds} alternating rounds",
        f"{'':<28}{'upload':>10}{'download':>10}",
        f"{'bare Starlette + uvicorn':<28}{rate('bare up')}{rate('bare down')}",
        f"{'civica (civica.io)':<28}{rate('up')}{rate('down')}",
        f"{'ratio (target >= 0.7)':<28}{up_ratio:>10.2f}{down_ratio:>10.2f}",
        f"civica server RSS: {rss_before / 1024:.0f} MiB before, {rss_peak / 1024:.0f} MiB at "
        f"peak, growth {growth:.0f} MiB (target < {RSS_TARGET_MIB})",
        "file transfer targets met" if ok else "some file transfer targets missed",
    ]


def main() -> int:
    mib = int(os.environ.get("CIVICA_BENCH_FILE_MB", "1024"))
    rounds = int(os.environ.get("CIVICA_BENCH_FILE_ROUNDS", "2"))
    for line in run(mib, rounds):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

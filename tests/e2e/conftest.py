"""End-to-end fixtures: `civica serve` as a real subprocess on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


@dataclass
class Served:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    output: list[str]

    def admin_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "civica.cli", "admin", "--data-dir", str(self.data_dir), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


def _drain(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)


def start_server(data_dir: Path, env: dict[str, str]) -> Served:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "civica.cli", "serve", "--data-dir", str(data_dir),
         "--port", str(port), "--no-access-log"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError("civica serve exited:\n" + "".join(lines))
            continue
        lines.append(line)
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
    # Keep reading its output, so a server that logs a lot never blocks on a full pipe.
    threading.Thread(target=_drain, args=(proc, lines), daemon=True).start()
    # "Application startup complete" comes before uvicorn listens: wait until it answers.
    while True:
        try:
            httpx.get(url + "/users/me", timeout=5)
            break
        except httpx.HTTPError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()  # never leave a half-started server behind
                raise RuntimeError("server not reachable:\n" + "".join(lines)) from exc
            time.sleep(0.05)
    return Served(url=url, data_dir=data_dir, env=env, process=proc, output=lines)


def stop_server(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(15)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait(5)


@pytest.fixture
def serve_env(metadata_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVICA_", "CIVIS_"))}
    if not metadata_url.startswith("sqlite"):
        env["CIVICA_DATABASE_URL"] = metadata_url
    return env


@pytest.fixture
def served(tmp_path: Path, serve_env: dict[str, str]) -> Iterator[Served]:
    srv = start_server(tmp_path / "data", serve_env)
    yield srv
    stop_server(srv)

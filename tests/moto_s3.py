"""A local S3-compatible server for the S3 store's tests: moto in server mode, on loopback.

`python -m tests.moto_s3 PORT` serves moto's S3 with one difference from moto patched in front:
AWS reads every part of a browser-upload POST as a form field whatever its headers, while moto
only reads parts without a filename. The public client sends every upload field as a file part
(wire contract §1.9), so such parts are rewritten as plain fields before moto sees them. URLs,
presigning, objects and multipart uploads are all moto's.

Note that moto checks neither presigned signatures nor expiry nor POST policies: what AWS itself
enforces is not tested here; what civica checks (sizes on completion, parts, states) is.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCESS_KEY = "civica-test-access"
SECRET_KEY = "civica-test-secret"
REGION = "us-east-1"


class FileFieldsAsFields:
    """WSGI middleware: multipart form parts other than `file` become plain fields."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        ctype = environ.get("CONTENT_TYPE", "")
        if environ.get("REQUEST_METHOD") == "POST" and ctype.startswith("multipart/form-data"):
            from werkzeug.formparser import parse_form_data

            _, form, files = parse_form_data(environ)
            boundary = b"civica-moto-boundary-" + uuid.uuid4().hex.encode()
            out = io.BytesIO()
            fields = [(k, v.encode()) for k, v in form.items(multi=True)]
            fields += [(k, f.read()) for k, f in files.items(multi=True) if k != "file"]
            for name, value in fields:
                out.write(b"--" + boundary + b"\r\n")
                out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
                out.write(value + b"\r\n")
            for upload in files.getlist("file"):
                out.write(b"--" + boundary + b"\r\n")
                out.write(b'Content-Disposition: form-data; name="file"; filename="file"\r\n')
                out.write(b"Content-Type: application/octet-stream\r\n\r\n")
                out.write(upload.read() + b"\r\n")
            out.write(b"--" + boundary + b"--\r\n")
            body = out.getvalue()
            environ = dict(environ)
            environ["CONTENT_TYPE"] = "multipart/form-data; boundary=" + boundary.decode()
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def main() -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    port = int(sys.argv[1])
    app = FileFieldsAsFields(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    server.serve_forever()


def s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 on a free loopback port, for the whole test session."""
    pytest.importorskip("moto", reason="the S3 store's tests need moto[server] (the dev extra)")
    pytest.importorskip("boto3")
    from tests.conftest import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.moto_s3", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.05)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def new_bucket(endpoint: str) -> str:
    name = f"civica-{uuid.uuid4().hex[:16]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


if __name__ == "__main__":
    main()

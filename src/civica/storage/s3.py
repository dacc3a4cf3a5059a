"""Any S3-compatible store (AWS S3, MinIO, Ceph, ...), through boto3 (`pip install civica[s3]`).

Uploads and downloads go straight between the caller and the store through presigned URLs
(SigV4: its POST form fields are lower case, which the public client's key conversion leaves
alone). Single uploads are a presigned POST whose policy bounds the size; multipart uploads are
presigned `UploadPart` PUTs, joined by `CompleteMultipartUpload`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from civica.storage.base import (
    ObjectStore,
    StorageError,
    StoredObject,
    StoreUnavailable,
    UploadForm,
    UploadIncomplete,
    UploadTooLarge,
    content_disposition,
)
from civica.storage.signing import UrlSigner

MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit


def _seconds_until(when: datetime) -> int:
    left = int((when - datetime.now(UTC)).total_seconds())
    return max(1, min(left, MAX_PRESIGN_SECONDS))


class S3Store(ObjectStore):
    kind = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        path_style: bool | None = None,
        signer: UrlSigner | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("an s3:// storage URL needs a bucket: s3://BUCKET[/prefix]")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._options = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "aws_session_token": session_token,
        }
        self._path_style = bool(endpoint_url) if path_style is None else path_style
        self.signer = signer
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 S3 client, made on first use (boto3 is only imported then)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        import boto3  # type: ignore[import-untyped, unused-ignore]
                        from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]
                    except ImportError:  # pragma: no cover - depends on the install
                        raise StorageError(
                            "an s3:// store needs boto3: pip install 'civica[s3]'"
                        ) from None
                    config = Config(
                        signature_version="s3v4",
                        s3={"addressing_style": "path" if self._path_style else "auto"},
                        retries={"max_attempts": 3, "mode": "standard"},
                    )
                    options = {k: v for k, v in self._options.items() if v}
                    self._client = boto3.client("s3", config=config, **options)
        return self._client

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """botocore's errors as StorageError: the caller gets a sentence, not a traceback."""
        try:
            yield
        except StorageError:
            raise
        except Exception as exc:
            error = (getattr(exc, "response", None) or {}).get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", exc))
            if code in ("EntityTooSmall", "InvalidPart", "InvalidPartOrder"):
                raise UploadIncomplete(
                    f"the store refused to join the parts ({code}: {message}); every part but "
                    "the last must be at least 5 MiB, and each sent completely"
                ) from None
            detail = f"{code}: {message}" if code else str(exc)
            raise StoreUnavailable(f"the S3 store could not {doing} ({detail})") from None

    def _k(self, key: str) -> str:
        return self.prefix + key

    @staticmethod
    def _is_missing(exc: Exception) -> bool:
        code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")

    def upload_form(
        self, key: str, *, expires_at: datetime, max_bytes: int, base_url: str
    ) -> UploadForm:
        fields: dict[str, Any] = {}
        conditions: list[Any] = [["content-length-range", 0, max_bytes]]
        if self.signer is not None:
            # S3 answers a finished upload with a 303 to this civica URL, which records the file
            # at once (clients follow it; if one does not, the file is recorded when next read).
            redirect = self.signer.url(base_url, "uploaded", key, expires_at.timestamp())
            fields["success_action_redirect"] = redirect
            conditions.append({"success_action_redirect": redirect})
        with self._errors("sign an upload"):
            post = self.client.generate_presigned_post(
                Bucket=self.bucket,
                Key=self._k(key),
                Fields=fields,
                Conditions=conditions,
                ExpiresIn=_seconds_until(expires_at),
            )
        # S3 reads form field names case-insensitively; the public client snake-cases any capital.
        form = {str(k).lower(): str(v) for k, v in post["fields"].items()}
        return UploadForm(url=str(post["url"]), fields=form)

    def start_multipart(self, key: str, num_parts: int) -> str:
        with self._errors("start a multipart upload"):
            response = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._k(key))
        return str(response["UploadId"])

    def part_upload_url(
        self, key: str, upload_id: str, part_number: int, *, expires_at: datetime, base_url: str
    ) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": self._k(key),
            "UploadId": upload_id,
            "PartNumber": part_number,
        }
        with self._errors("sign a part upload"):
            return str(
                self.client.generate_presigned_url(
                    "upload_part", Params=params, ExpiresIn=_seconds_until(expires_at)
                )
            )

    def _parts(self, key: str, upload_id: str) -> dict[int, dict[str, Any]]:
        parts: dict[int, dict[str, Any]] = {}
        with self._errors("list the uploaded parts"):
            paginator = self.client.get_paginator("list_parts")
            try:
                pages = paginator.paginate(Bucket=self.bucket, Key=self._k(key), UploadId=upload_id)
                for page in pages:
                    for part in page.get("Parts", []):
                        parts[int(part["PartNumber"])] = part
            except Exception as exc:
                if self._is_missing(exc):
                    raise UploadIncomplete(
                        "this multipart upload is no longer open in the store: it was completed "
                        "or discarded"
                    ) from None
                raise
        return parts

    def complete_multipart(
        self, key: str, upload_id: str, num_parts: int, *, max_bytes: int
    ) -> StoredObject:
        parts = self._parts(key, upload_id)
        missing = [n for n in range(1, num_parts + 1) if n not in parts]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            raise UploadIncomplete(
                f"{len(missing)} of {num_parts} parts were not uploaded (part {shown}); PUT each "
                "part to its upload URL, then complete the upload again"
            )
        total = sum(int(parts[n]["Size"]) for n in range(1, num_parts + 1))
        if total > max_bytes:
            self.abort_multipart(key, upload_id)
            raise UploadTooLarge(
                f"the parts add up to {total} bytes, more than the {max_bytes} allowed; the "
                "upload was discarded"
            )
        listing = [{"PartNumber": n, "ETag": parts[n]["ETag"]} for n in range(1, num_parts + 1)]
        with self._errors("join the parts"):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._k(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": listing},
            )
        stored = self.stat(key)
        if stored is None:  # pragma: no cover - the store just said it completed
            raise StoreUnavailable("the store completed the upload but does not show the object")
        return stored

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with self._errors("discard a multipart upload"):
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self._k(key), UploadId=upload_id
                )
            except Exception as exc:
                if not self._is_missing(exc):
                    raise

    def stat(self, key: str) -> StoredObject | None:
        with self._errors("read an object's size"):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            except Exception as exc:
                if self._is_missing(exc):
                    return None
                raise
        etag = str(head.get("ETag", "")).strip('"') or None
        algorithm = None if etag is None else ("s3-etag" if "-" in etag else "md5")
        return StoredObject(int(head["ContentLength"]), etag, algorithm)

    def download_url(
        self,
        key: str,
        *,
        filename: str,
        content_type: str,
        inline: bool,
        expires_at: datetime,
        base_url: str,
    ) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": self._k(key),
            "ResponseContentDisposition": content_disposition(
                "inline" if inline else "attachment", filename
            ),
            "ResponseContentType": content_type,
        }
        with self._errors("sign a download"):
            return str(
                self.client.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=_seconds_until(expires_at)
                )
            )

    def delete(self, key: str) -> None:
        with self._errors("delete an object"):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=self._k(key))
            except Exception as exc:
                if not self._is_missing(exc):
                    raise

    def sweep_leftovers(self, older_than: datetime) -> int:
        removed = 0
        with self._errors("list unfinished uploads"):
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    initiated = upload.get("Initiated")
                    if isinstance(initiated, datetime) and initiated < older_than:
                        self.abort_multipart_raw(str(upload["Key"]), str(upload["UploadId"]))
                        removed += 1
        return removed

    def abort_multipart_raw(self, full_key: str, upload_id: str) -> None:
        """Abort an upload by its key in the bucket (prefix included)."""
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=full_key, UploadId=upload_id)

"""The object store every file's bytes live in, behind one abstract base.

A store hands out URLs: callers upload and download straight to and from them, never through the
API's JSON routes. The S3 store presigns URLs that S3 itself serves; the local store signs URLs
that civica's transfer routes serve (`civica.api.resources.file_transfer`).

Keys are chosen by civica (`new_key`), never derived from a file's name.
"""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

KEY_PATTERN = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")


def new_key() -> str:
    """A fresh, unguessable object key such as `3f/3f9c...`: two hex characters of fan-out."""
    h = uuid.uuid4().hex
    return f"{h[:2]}/{h}"


def content_disposition(kind: str, filename: str) -> str:
    """`attachment; filename="…"; filename*=utf-8''…` (RFC 6266 and 5987): an ASCII fallback
    name for old clients, the exact name for the others."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=utf-8''{quote(filename, safe='')}"


class StorageError(Exception):
    """A store refused an operation; the message says why, for the caller."""


class UploadIncomplete(StorageError):
    """A multipart upload cannot be joined: parts are missing, or the store refused them."""


class StoreUnavailable(StorageError):
    """The store could not be reached, or refused for reasons of its own (credentials...)."""


class UploadTooLarge(StorageError):
    """An upload is bigger than the configured maximum."""


@dataclass(frozen=True)
class StoredObject:
    """What the store holds under a key: its size and a checksum of its bytes."""

    size: int
    checksum: str | None = None
    # "sha256" (local store), "md5" (S3 single upload ETag), "s3-etag" (S3 multipart ETag).
    checksum_algorithm: str | None = None


@dataclass(frozen=True)
class UploadForm:
    """A browser-style upload: POST multipart/form-data to `url` with `fields`, then `file`."""

    url: str
    fields: dict[str, str] = field(default_factory=dict)


class ObjectStore(ABC):
    """One place file bytes are kept. Every method is safe to call from worker threads."""

    #: Recorded with each file so a file is only looked for in the store that holds it.
    kind: str

    @abstractmethod
    def upload_form(
        self, key: str, *, expires_at: datetime, max_bytes: int, base_url: str
    ) -> UploadForm:
        """A single-request upload to `key`, valid until `expires_at`, refusing more than
        `max_bytes`. Field names are lower case: the public client snake-cases them."""

    @abstractmethod
    def start_multipart(self, key: str, num_parts: int) -> str:
        """Begin a multipart upload of `num_parts` parts to `key`; returns the upload's id."""

    @abstractmethod
    def part_upload_url(
        self, key: str, upload_id: str, part_number: int, *, expires_at: datetime, base_url: str
    ) -> str:
        """The URL to PUT part `part_number` (1-based) of a multipart upload to."""

    @abstractmethod
    def complete_multipart(
        self, key: str, upload_id: str, num_parts: int, *, max_bytes: int
    ) -> StoredObject:
        """Join parts 1..num_parts into the object at `key`. Raises UploadIncomplete when a part
        is missing and UploadTooLarge (after discarding the parts) past `max_bytes`."""

    @abstractmethod
    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard the parts of an unfinished multipart upload (no error if there are none)."""

    @abstractmethod
    def stat(self, key: str) -> StoredObject | None:
        """The complete object at `key`, or None when there is none (yet)."""

    @abstractmethod
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
        """A URL anyone holding it can GET the object from until `expires_at`, served with
        `content_type` and a Content-Disposition naming `filename`."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object at `key`; no error if it is already gone."""

    @abstractmethod
    def sweep_leftovers(self, older_than: datetime) -> int:
        """Remove remains of uploads abandoned before `older_than` (partial files, unfinished
        multipart uploads). Returns how many were removed."""

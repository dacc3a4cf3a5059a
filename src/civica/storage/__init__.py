"""Object stores for file contents, chosen by `CIVICA_STORAGE_URL`:

- unset: the folder `files/` in the data folder (`LocalStore`);
- `file:///srv/civica-files`: another local folder;
- `s3://bucket[/prefix][?endpoint=URL&region=NAME&path_style=true]`: an S3-compatible store
  (`S3Store`; boto3 is imported only then). Credentials come from
  `CIVICA_STORAGE_ACCESS_KEY_ID` / `CIVICA_STORAGE_SECRET_ACCESS_KEY`, else boto3's usual
  sources (environment, shared config, instance role).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from civica.settings import Settings
from civica.storage.base import (
    ObjectStore,
    StorageError,
    StoredObject,
    StoreUnavailable,
    UploadForm,
    UploadIncomplete,
    UploadTooLarge,
    new_key,
)
from civica.storage.local import LocalStore
from civica.storage.signing import TokenError, UrlSigner, signing_key

if TYPE_CHECKING:
    from civica.platform import Platform

__all__ = [
    "LocalStore",
    "ObjectStore",
    "StorageError",
    "StoreUnavailable",
    "StoredObject",
    "TokenError",
    "UploadForm",
    "UploadIncomplete",
    "UploadTooLarge",
    "UrlSigner",
    "file_store",
    "new_key",
    "open_store",
    "transfer_signer",
]

_EXTRA = "file_store"
_SIGNER = "file_transfer_signer"
_lock = threading.Lock()
_TRUE = ("1", "true", "yes", "on")


def open_store(settings: Settings, signer: UrlSigner | None = None) -> ObjectStore:
    """The store `settings.storage_url` names (a folder in the data folder by default).
    `signer` signs the URLs civica serves itself (by default, with the platform's key)."""
    url = (settings.storage_url or "").strip()
    signer = signer or UrlSigner(signing_key(settings))
    if not url or url == "local":
        return LocalStore(settings.data_dir / "files", signer)
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"CIVICA_STORAGE_URL {url!r}: a file:// URL must be file:///path")
        return LocalStore(Path(unquote(parts.path)), signer)
    if parts.scheme == "s3":
        from civica.storage.s3 import S3Store

        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path_style = query.get("path_style")
        return S3Store(
            parts.netloc,
            unquote(parts.path),
            endpoint_url=query.get("endpoint") or query.get("endpoint_url"),
            region=query.get("region"),
            access_key_id=settings.storage_access_key_id,
            secret_access_key=settings.storage_secret_access_key,
            path_style=None if path_style is None else path_style.lower() in _TRUE,
            signer=signer,
        )
    raise ValueError(
        f"CIVICA_STORAGE_URL {url!r} is not a store civica knows: leave it unset for the data "
        "folder, or use file:///path or s3://bucket/prefix?endpoint=URL"
    )


def transfer_signer(platform: Platform) -> UrlSigner:
    """Signs and checks the transfer URLs civica serves (keyed from the platform's secret)."""
    signer = platform.extras.get(_SIGNER)
    if signer is None:
        with _lock:
            signer = platform.extras.get(_SIGNER)
            if signer is None:
                signer = platform.extras[_SIGNER] = UrlSigner(signing_key(platform.settings))
    assert isinstance(signer, UrlSigner)
    return signer


def file_store(platform: Platform) -> ObjectStore:
    """The platform's store, opened once and kept with the platform."""
    store = platform.extras.get(_EXTRA)
    if store is None:
        signer = transfer_signer(platform)
        with _lock:
            store = platform.extras.get(_EXTRA)
            if store is None:
                store = platform.extras[_EXTRA] = open_store(platform.settings, signer)
    assert isinstance(store, ObjectStore)
    return store

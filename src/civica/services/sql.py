"""What queries and SQL scripts share: which login reaches the database, CSV settings, SQL
templating, storing exported files in the object store and linking run outputs to them."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from civica.db.models import CredentialRow, FileRow, RemoteHostRow, RunOutputRow
from civica.platform import Platform
from civica.services.actor import Actor
from civica.services.errors import BadRequest
from civica.storage import LocalStore, file_store, new_key
from civica.warehouse import CsvFormat

DELIMITERS = {"comma": ",", "tab": "\t", "pipe": "|"}
COMPRESSIONS = ("gzip", "zip", "none")
OUTPUT_LIFETIME = timedelta(days=30)
LINK_LIFETIME = timedelta(hours=36)
PART_BYTES = 64 * 1024 * 1024
MIB = 1024 * 1024
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)(?:\.(username|password))?\s*\}\}")


# --- the database and the login ---------------------------------------------------------------


def resolve_credential(
    session: Session, actor: Actor, database: RemoteHostRow, credential_id: int | None
) -> int | None:
    """The credential to reach `database` with. The public client always sends the caller's
    default Database credential, which is for the embedded warehouse: for another database that
    means "my own login there" (the caller's credential for it, else the registered URL's)."""
    if credential_id is None:
        return None
    cred = session.get(CredentialRow, credential_id)
    if (
        cred is not None
        and cred.owner_id == actor.user_id
        and cred.is_default
        and cred.remote_host_id is not None
        and cred.remote_host_id != database.id
    ):
        return None
    return credential_id


# --- CSV settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvSettings:
    include_header: bool = True
    compression: str = "gzip"
    column_delimiter: str = "comma"
    unquoted: bool = False
    force_multifile: bool = False
    filename_prefix: str | None = None
    max_file_size: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "include_header": self.include_header,
            "compression": self.compression,
            "column_delimiter": self.column_delimiter,
            "unquoted": self.unquoted,
            "force_multifile": self.force_multifile,
            "filename_prefix": self.filename_prefix,
            "max_file_size": self.max_file_size,
        }

    @property
    def multifile(self) -> bool:
        return self.force_multifile or self.max_file_size is not None

    def csv_format(self) -> CsvFormat:
        part = None
        if self.multifile:
            part = int((self.max_file_size or 1024) * MIB)
        return CsvFormat(
            header=self.include_header,
            delimiter=DELIMITERS[self.column_delimiter],
            quoted=not self.unquoted,
            compression=self.compression,
            max_part_bytes=part,
        )


_DELIMITER_NAMES = {",": "comma", "\t": "tab", "|": "pipe"}


def csv_settings(raw: dict[str, Any] | None, where: str = "csv_settings") -> CsvSettings:
    """Validated CSV settings from a request or config (null values mean the defaults)."""
    given = {k: v for k, v in (raw or {}).items() if v is not None}
    compression = str(given.get("compression", "gzip")).lower()
    if compression not in COMPRESSIONS:
        raise BadRequest(f"{where}.compression must be gzip, zip or none; got {compression!r}")
    delimiter = str(given.get("column_delimiter", "comma"))
    delimiter = _DELIMITER_NAMES.get(delimiter, delimiter.lower())
    if delimiter not in DELIMITERS:
        raise BadRequest(
            f"{where}.column_delimiter must be comma, tab or pipe; "
            f"got {given['column_delimiter']!r}"
        )
    prefix = given.get("filename_prefix")
    if prefix is not None:
        prefix = str(prefix).strip()
        if not re.fullmatch(r"[A-Za-z0-9._ -]{1,100}", prefix or "-") or prefix.startswith("."):
            raise BadRequest(
                f"{where}.filename_prefix may use letters, digits, '.', '_', '-' and spaces (at "
                f"most 100, not starting with '.'); got {prefix!r}"
            )
    size = given.get("max_file_size")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise BadRequest(f"{where}.max_file_size must be a whole number of MB, at least 1")
    return CsvSettings(
        include_header=bool(given.get("include_header", True)),
        compression=compression,
        column_delimiter=delimiter,
        unquoted=bool(given.get("unquoted", False)),
        force_multifile=bool(given.get("force_multifile", False)),
        filename_prefix=prefix or None,
        max_file_size=size,
    )


# --- templating ---------------------------------------------------------------------------------


def param_values(params: list[dict[str, Any]], arguments: dict[str, Any]) -> dict[str, Any]:
    """Each param's value: fixed `value`, else the argument, else the default."""
    out: dict[str, Any] = {}
    for param in params:
        name = str(param.get("name") or "")
        if param.get("value") not in (None, ""):
            out[name] = param["value"]
        elif arguments.get(name) not in (None, ""):
            out[name] = arguments[name]
        elif param.get("default") not in (None, ""):
            out[name] = param["default"]
    return out


def render_sql(
    sql: str, values: dict[str, Any], logins: dict[str, tuple[str, str]] | None = None
) -> str:
    """`{{name}}` replaced by the param's value; `{{name.username}}` / `{{name.password}}` by a
    credential param's login (`logins`). Unknown names are left as written."""
    lowered = {k.lower(): v for k, v in values.items()}
    creds = {k.lower(): v for k, v in (logins or {}).items()}

    def sub(match: re.Match[str]) -> str:
        name, part = match.group(1).lower(), match.group(2)
        if part:
            login = creds.get(name)
            if login is None:
                return match.group(0)
            return login[0] if part == "username" else login[1]
        if name not in lowered:
            return match.group(0)
        value = lowered[name]
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return _PLACEHOLDER.sub(sub, sql)


# --- files --------------------------------------------------------------------------------------


def _upload_parts(platform: Platform, key: str, path: Path, base_url: str) -> None:
    """Put `path` at `key` in a store civica does not hold on disk (S3), through its own
    multipart upload URLs."""
    store = file_store(platform)
    size = path.stat().st_size
    part_size = max(PART_BYTES, math.ceil(size / 9000))
    parts = max(1, math.ceil(size / part_size))
    upload_id = store.start_multipart(key, parts)
    expires = datetime.now(UTC) + timedelta(hours=12)
    with open(path, "rb") as fh, httpx.Client(timeout=600) as client:
        for number in range(1, parts + 1):
            url = store.part_upload_url(
                key, upload_id, number, expires_at=expires, base_url=base_url
            )
            response = client.put(url, content=fh.read(part_size))
            response.raise_for_status()
    store.complete_multipart(key, upload_id, parts, max_bytes=platform.settings.max_upload_bytes)


def store_file(
    platform: Platform, owner_id: int, path: Path, name: str, base_url: str = ""
) -> tuple[str, int]:
    """Move `path` into the object store as a new object; returns (storage key, size)."""
    store = file_store(platform)
    key = new_key()
    size = path.stat().st_size
    if isinstance(store, LocalStore):
        target = store.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target)
        except OSError:  # another file system
            try:
                shutil.copyfile(path, target)
            except OSError:
                target.unlink(missing_ok=True)  # never keep half a file (a full disk...)
                raise
            path.unlink(missing_ok=True)
    else:
        _upload_parts(platform, key, path, base_url)
        path.unlink(missing_ok=True)
    return key, size


def file_row(
    session: Session, platform: Platform, owner_id: int, key: str, size: int, name: str
) -> FileRow:
    now = datetime.now(UTC)
    row = FileRow(
        owner_id=owner_id,
        name=name,
        state="uploaded",
        store=file_store(platform).kind,
        storage_key=key,
        size=size,
        expires_at=now + OUTPUT_LIFETIME,
        uploaded_at=now,
    )
    session.add(row)
    session.flush()
    return row


def download_link(platform: Platform, row: FileRow, base_url: str) -> str | None:
    """A URL anyone holding it can read the file from for 36 hours (or until it expires)."""
    from civica.services.files import content_type_for, public_base

    if row.state != "uploaded":
        return None
    now = datetime.now(UTC)
    expires = now + LINK_LIFETIME
    if row.expires_at is not None:
        stamp = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if stamp <= now:
            return None
        expires = min(expires, stamp)
    return file_store(platform).download_url(
        row.storage_key,
        filename=row.name,
        content_type=content_type_for(row.name),
        inline=False,
        expires_at=expires,
        base_url=public_base(platform, base_url),
    )


@dataclass
class OutputFile:
    output_name: str
    file_id: int
    path: str | None


def run_output_files(
    session: Session, platform: Platform, run_ids: list[int], base_url: str
) -> dict[int, list[OutputFile]]:
    """The files each run produced, in order, with download links."""
    out: dict[int, list[OutputFile]] = {r: [] for r in run_ids}
    if not run_ids:
        return out
    rows = session.execute(
        select(RunOutputRow.run_id, RunOutputRow.name, FileRow)
        .join(FileRow, FileRow.id == RunOutputRow.object_id)
        .where(RunOutputRow.run_id.in_(run_ids), RunOutputRow.object_type == "File")
        .order_by(RunOutputRow.id)
    ).all()
    for run_id, name, frow in rows:
        out[run_id].append(
            OutputFile(
                output_name=name or frow.name,
                file_id=frow.id,
                path=download_link(platform, frow, base_url),
            )
        )
    return out


def manifest(
    query: str,
    header: list[str] | None,
    entries: list[dict[str, Any]],
    settings: CsvSettings,
) -> bytes:
    return json.dumps(
        {
            "query": query,
            "header": header,
            "entries": entries,
            "unquoted": settings.unquoted,
            "compression": settings.compression,
            "delimiter": DELIMITERS[settings.column_delimiter],
        },
        indent=1,
    ).encode("utf-8")

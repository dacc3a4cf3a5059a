"""The default store: a folder (under the data folder unless configured elsewhere).

Layout under the root:

- `objects/ab/ab…` complete objects, one file per key;
- `.incoming/` single uploads being received (renamed into `objects/` once complete and fsynced);
- `.multipart/<upload id>/` unfinished multipart uploads (see "Multipart uploads" below).

Incoming data is written under a temporary name, fsynced and atomically renamed, so a reader never
sees half an object. URLs point at civica's own transfer routes and carry a signed token.

Multipart uploads. Clients cut a file into parts of one size P (all but the last). Once one part
has shown P, every part whose length fits is written straight into the upload's `data` file at
offset (n-1)·P, and marked done by `NNNNN.in` (its length) only once complete: completing then
needs no copy of the bytes. A part that does not fit (sent before P was known, or of another
size) is kept as its own file `NNNNN` and copied in when completing. A background thread keeps a
running SHA-256 over the longest run of parts from the first, so completing has little left to hash.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from civica.storage.base import (
    KEY_PATTERN,
    ObjectStore,
    StorageError,
    StoredObject,
    UploadForm,
    UploadIncomplete,
    UploadTooLarge,
)
from civica.storage.signing import UrlSigner

COPY_CHUNK = 4 * 1024 * 1024
UPLOAD_ID_LENGTH = 32
COMPLETE_WAIT_SECONDS = 30.0
HEX = frozenset("0123456789abcdef")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _too_large(limit: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"the upload is larger than the {limit} bytes allowed; split the data into smaller "
        "files or ask the administrator to raise CIVICA_MAX_UPLOAD_BYTES"
    )


def _write_all(fd: int, data: bytes | bytearray | memoryview, offset: int | None = None) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
        view = view[n:]
        if offset is not None:
            offset += n


class IncomingFile:
    """Bytes being received into a temporary file: counted against a limit, optionally hashed.
    `finish` makes them durable; `discard` removes them. Not thread-safe (one writer)."""

    def __init__(self, path: Path, limit: int, *, hashed: bool) -> None:
        self.path = path
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256() if hashed else None
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _too_large(self.limit)
        _write_all(self._fd, data)
        if self._hash is not None:
            self._hash.update(data)

    def finish(self, *, fsync: bool = True) -> StoredObject:
        """Close (and fsync: the bytes are on disk under the temporary name afterwards)."""
        if fsync:
            os.fsync(self._fd)
        self._close()
        digest = self._hash.hexdigest() if self._hash is not None else None
        return StoredObject(self.size, digest, "sha256" if digest else None)

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def discard(self) -> None:
        self._close()
        self.path.unlink(missing_ok=True)


# -- multipart uploads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """Where one received part's bytes are: in `data` at `offset`, or in their own file."""

    number: int
    length: int
    identity: tuple[int, int, int]  # (inode, size, mtime) of its marker or file: changes if resent
    offset: int | None = None  # in place in `data`
    path: Path | None = None  # its own file


class PartWriter:
    """Receives one part: in place in the upload's `data` file, or into a file of its own.
    `commit` marks it received; `discard` forgets it (the part then counts as not sent)."""

    def __init__(
        self, folder: Path, number: int, limit: int, offset: int | None, length: int | None
    ) -> None:
        self.folder = folder
        self.number = number
        self.limit = limit
        self.offset = offset
        self.length = length
        self.size = 0
        self._fd = -1
        self._temp: Path | None = None
        # Held while the part is received: completing waits for parts still arriving.
        self._lock = os.open(folder / ".lock", os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_SH)
            if not (folder / "upload.json").exists():
                raise StorageError(
                    "this multipart upload is finished or was discarded; start a new one with "
                    "POST /files/multipart"
                )
            # A part sent again is not received until it is complete.
            (folder / f"{number:05d}.in").unlink(missing_ok=True)
            if offset is not None:
                self._fd = os.open(folder / "data", os.O_WRONLY | os.O_CREAT, 0o600)
            else:
                self._temp = folder / f"{number:05d}.{uuid.uuid4().hex[:8]}.tmp"
                self._fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except BaseException:
            self.discard()
            raise

    def write(self, data: bytes | bytearray | memoryview) -> None:
        position = self.size
        self.size += len(data)
        if self.size > self.limit:
            raise _too_large(self.limit)
        if self.offset is None:
            _write_all(self._fd, data)
        else:
            if self.length is not None and self.size > self.length:
                raise StorageError("the part is longer than its Content-Length")
            _write_all(self._fd, data, self.offset + position)

    def commit(self) -> None:
        try:
            os.close(self._fd)
            self._fd = -1
            if not (self.folder / "upload.json").exists():
                raise StorageError(
                    "this multipart upload was completed or discarded while the part was sent"
                )
            own = self.folder / f"{self.number:05d}"
            if self.offset is None:
                assert self._temp is not None
                os.replace(self._temp, own)
                self._temp = None
                return
            if self.length is not None and self.size != self.length:
                raise StorageError("the part ended before its Content-Length")
            temp = self.folder / f"{self.number:05d}.in.{uuid.uuid4().hex[:8]}.tmp"
            temp.write_text(str(self.size))
            os.replace(temp, self.folder / f"{self.number:05d}.in")
            own.unlink(missing_ok=True)
        finally:
            self.discard()

    def discard(self) -> None:
        """Close, release the upload, and remove what was not committed."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1


class _RunningHash:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.digest = hashlib.sha256()
        self.next_part = 1
        self.hashed: list[tuple[int, int, int]] = []


@dataclass(frozen=True)
class _Copy:
    source: Path
    source_offset: int
    length: int
    target_offset: int


class _Copier(threading.Thread):
    """Copies byte ranges into an open file, with copy_file_range (user space where missing)."""

    def __init__(self, copies: list[_Copy], out: int) -> None:
        super().__init__(name="civica-join", daemon=True)
        self.copies = copies
        self.out = out
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for copy in self.copies:
                fd = os.open(copy.source, os.O_RDONLY)
                try:
                    _copy_range(fd, copy.source_offset, self.out, copy.target_offset, copy.length)
                finally:
                    os.close(fd)
        except BaseException as exc:
            self.error = exc


def _copy_range(src: int, src_offset: int, dst: int, dst_offset: int, length: int) -> None:
    done = 0
    try:
        while done < length:
            n = os.copy_file_range(src, dst, length - done, src_offset + done, dst_offset + done)
            if n == 0:
                break
            done += n
    except OSError:  # another file system or kernel: copy through user space
        buf = bytearray(COPY_CHUNK)
        while done < length:
            n = os.preadv(
                src, [memoryview(buf)[: min(COPY_CHUNK, length - done)]], src_offset + done
            )
            if n == 0:
                break
            os.pwrite(dst, memoryview(buf)[:n], dst_offset + done)
            done += n
    if done != length:
        raise StorageError("a part got shorter while the upload was completed")


class LocalStore(ObjectStore):
    kind = "local"

    def __init__(self, root: Path, signer: UrlSigner) -> None:
        self.root = root.resolve()
        self.signer = signer
        self.objects = self.root / "objects"
        self.incoming_dir = self.root / ".incoming"
        self.multipart_dir = self.root / ".multipart"
        for folder in (self.objects, self.incoming_dir, self.multipart_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._running: dict[str, _RunningHash] = {}
        self._running_lock = threading.Lock()
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="civica-part-hash")

    # -- paths: every key and upload id is checked, so no name can point outside the root ---------

    def path(self, key: str) -> Path:
        if not KEY_PATTERN.fullmatch(key):
            raise StorageError(f"{key!r} is not an object key of this store")
        return self.objects / key

    def _upload_dir(self, upload_id: str) -> Path:
        if len(upload_id) != UPLOAD_ID_LENGTH or not set(upload_id) <= HEX:
            raise StorageError(f"{upload_id!r} is not a multipart upload of this store")
        return self.multipart_dir / upload_id

    # -- the abstract interface ---------------------------------------------------------------

    def upload_form(
        self, key: str, *, expires_at: datetime, max_bytes: int, base_url: str
    ) -> UploadForm:
        self.path(key)
        url = self.signer.url(base_url, "upload", key, expires_at.timestamp(), x=max_bytes)
        return UploadForm(url=url, fields={"key": key})

    def start_multipart(self, key: str, num_parts: int) -> str:
        self.path(key)
        upload_id = uuid.uuid4().hex
        folder = self._upload_dir(upload_id)
        folder.mkdir()
        (folder / "upload.json").write_text(json.dumps({"key": key, "num_parts": num_parts}))
        return upload_id

    def part_upload_url(
        self, key: str, upload_id: str, part_number: int, *, expires_at: datetime, base_url: str
    ) -> str:
        self._upload_dir(upload_id)
        return self.signer.url(
            base_url, "part", key, expires_at.timestamp(), u=upload_id, n=part_number
        )

    def complete_multipart(
        self, key: str, upload_id: str, num_parts: int, *, max_bytes: int
    ) -> StoredObject:
        folder = self._upload_dir(upload_id)
        self.path(key)
        try:
            lock_fd = os.open(folder / ".lock", os.O_CREAT | os.O_WRONLY, 0o600)
        except FileNotFoundError:
            raise UploadIncomplete(
                "this multipart upload has no parts any more: it was completed or discarded"
            ) from None
        try:
            deadline = time.monotonic() + COMPLETE_WAIT_SECONDS
            while True:
                try:
                    fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise UploadIncomplete(
                            "parts are still being uploaded; complete the upload once every PUT "
                            "has finished"
                        ) from None
                    time.sleep(0.05)
            if not (folder / "upload.json").exists():
                raise UploadIncomplete(
                    "this multipart upload has no parts any more: it was completed or discarded"
                )
            parts = [self._part(folder, n) for n in range(1, num_parts + 1)]
            missing = [n for n, p in enumerate(parts, 1) if p is None]
            if missing:
                shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
                raise UploadIncomplete(
                    f"{len(missing)} of {num_parts} parts were not uploaded (part {shown}); PUT "
                    "each part to its upload URL, then complete the upload again"
                )
            received = [p for p in parts if p is not None]
            total = sum(p.length for p in received)
            if total > max_bytes:
                self.abort_multipart(key, upload_id)
                raise UploadTooLarge(
                    f"the parts add up to {total} bytes, more than the {max_bytes} allowed; the "
                    "upload was discarded"
                )
            stored = self._join(key, upload_id, folder, received, total)
            self.abort_multipart(key, upload_id)
            return stored
        finally:
            os.close(lock_fd)

    def _join(
        self, key: str, upload_id: str, folder: Path, parts: list[_Part], total: int
    ) -> StoredObject:
        """Make the object: parts already in place stay, the others are copied in (in a second
        thread, in the kernel) while this thread finishes the SHA-256; fsync, rename."""
        data = folder / "data"
        offsets, position = [], 0
        for part in parts:
            offsets.append(position)
            position += part.length
        in_place = all(
            p.offset is None or p.offset == o for p, o in zip(parts, offsets, strict=True)
        )
        target = data if in_place else folder / f"joined.{uuid.uuid4().hex[:8]}.tmp"
        copies = [
            _Copy(p.path or data, p.offset or 0, p.length, o)
            for p, o in zip(parts, offsets, strict=True)
            if not (in_place and p.offset is not None)
        ]
        out = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
        copier = _Copier(copies, out)
        try:
            copier.start()
            digest = self._finish_hash(upload_id, folder, parts)
            copier.join()
            if copier.error is not None:
                raise copier.error
            os.ftruncate(out, total)
            os.fsync(out)
            os.close(out)
            out = -1
            final = self.path(key)
            final.parent.mkdir(exist_ok=True)
            os.replace(target, final)
            _fsync_dir(final.parent)
        finally:
            if copier.is_alive():
                copier.join()
            if out >= 0:
                os.close(out)
        return StoredObject(total, digest, "sha256")

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with self._running_lock:
            self._running.pop(upload_id, None)
        shutil.rmtree(self._upload_dir(upload_id), ignore_errors=True)

    def stat(self, key: str) -> StoredObject | None:
        try:
            return StoredObject(size=self.path(key).stat().st_size)
        except FileNotFoundError:
            return None

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
        self.path(key)
        return self.signer.url(
            base_url,
            "download",
            key,
            expires_at.timestamp(),
            n=filename,
            t=content_type,
            i=int(inline),
        )

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def sweep_leftovers(self, older_than: datetime) -> int:
        cutoff = older_than.timestamp()
        removed = 0
        for entry in os.scandir(self.incoming_dir):
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        for entry in os.scandir(self.multipart_dir):
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                with self._running_lock:
                    self._running.pop(entry.name, None)
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
        return removed

    # -- single uploads, for the transfer routes --------------------------------------------------

    def incoming(self, *, limit: int, hashed: bool = True) -> IncomingFile:
        """A new temporary file in the store to receive an upload into."""
        return IncomingFile(
            self.incoming_dir / f"{uuid.uuid4().hex}.part", limit=limit, hashed=hashed
        )

    def commit(self, incoming: IncomingFile, key: str) -> None:
        """Move a finished incoming file to `key`, atomically (same file system)."""
        target = self.path(key)
        target.parent.mkdir(exist_ok=True)
        os.replace(incoming.path, target)
        _fsync_dir(target.parent)

    # -- multipart parts, for the transfer routes -------------------------------------------------

    @staticmethod
    def _part_size(folder: Path) -> int | None:
        try:
            return int((folder / "part_size").read_text())
        except (FileNotFoundError, ValueError):
            return None

    @staticmethod
    def _claim_part_size(folder: Path, size: int) -> int:
        """The upload's part size: `size`, unless another part claimed one first."""
        temp = folder / f"part_size.{uuid.uuid4().hex[:8]}.tmp"
        temp.write_text(str(size))
        try:
            os.link(temp, folder / "part_size")  # atomic, and never replaces
        except FileExistsError:
            pass
        finally:
            temp.unlink(missing_ok=True)
        return int((folder / "part_size").read_text())

    def _part(self, folder: Path, number: int) -> _Part | None:
        """Part `number` if it was received completely, else None."""
        marker = folder / f"{number:05d}.in"
        try:
            st = marker.stat()
            length = int(marker.read_text())
            size = self._part_size(folder)
            if size is not None:
                identity = (st.st_ino, st.st_size, st.st_mtime_ns)
                return _Part(number, length, identity, offset=(number - 1) * size)
        except (FileNotFoundError, ValueError):
            pass
        own = folder / f"{number:05d}"
        try:
            st = own.stat()
        except FileNotFoundError:
            return None
        return _Part(number, st.st_size, (st.st_ino, st.st_size, st.st_mtime_ns), path=own)

    @staticmethod
    def _received_bytes(folder: Path, but: int, part_size: int | None) -> int:
        """About how many bytes the other parts hold (in-place ones counted as a full part)."""
        total = 0
        for entry in os.scandir(folder):
            name = entry.name
            if name.isdigit() and int(name) != but:
                total += entry.stat().st_size
            elif name.endswith(".in") and name[:-3].isdigit() and int(name[:-3]) != but:
                total += part_size or 0
        return total

    def part_writer(
        self, upload_id: str, part_number: int, length: int | None, max_bytes: int
    ) -> PartWriter:
        """A writer for one part of `length` bytes (None: unknown), keeping all the parts
        within `max_bytes`."""
        folder = self._upload_dir(upload_id)
        try:
            num_parts = int(json.loads((folder / "upload.json").read_text())["num_parts"])
        except (FileNotFoundError, ValueError, KeyError):
            raise StorageError(
                "this multipart upload is finished or was discarded; start a new one with "
                "POST /files/multipart"
            ) from None
        known = self._part_size(folder)
        limit = max(max_bytes - self._received_bytes(folder, part_number, known), 0)
        offset: int | None = None
        if length is not None and length > 0 and part_number < num_parts:
            size = known or self._claim_part_size(folder, length)
            offset = (part_number - 1) * size if size == length else None
        elif length is not None and part_number == num_parts and known and length <= known:
            offset = (part_number - 1) * known
        if offset is not None and offset + (length or 0) > max_bytes:
            raise _too_large(max_bytes)
        os.utime(folder)  # keeps an active upload out of the leftover sweep
        return PartWriter(folder, part_number, limit, offset, length)

    def commit_part(self, writer: PartWriter, upload_id: str) -> None:
        writer.commit()
        with self._running_lock:
            running = self._running.setdefault(upload_id, _RunningHash())
        self._hasher.submit(self._advance, upload_id, running)

    # -- the running SHA-256 ----------------------------------------------------------------------

    def _advance(self, upload_id: str, running: _RunningHash) -> None:
        folder = self._upload_dir(upload_id)
        with running.lock:
            self._hash_forward(folder, running, None)

    def _hash_forward(self, folder: Path, running: _RunningHash, last: int | None) -> None:
        """Hash parts from `running.next_part` on while they are there (up to `last`)."""
        buf = bytearray(COPY_CHUNK)
        view = memoryview(buf)
        data_fd = -1
        try:
            while last is None or running.next_part <= last:
                part = self._part(folder, running.next_part)
                if part is None:
                    return
                if part.offset is not None:
                    if data_fd < 0:
                        data_fd = os.open(folder / "data", os.O_RDONLY)
                    fd, position = data_fd, part.offset
                else:
                    assert part.path is not None
                    fd, position = os.open(part.path, os.O_RDONLY), 0
                try:
                    left = part.length
                    while left > 0:
                        n = os.preadv(fd, [view[: min(COPY_CHUNK, left)]], position)
                        if n == 0:
                            raise StorageError("a part got shorter while it was hashed")
                        running.digest.update(view[:n])
                        position += n
                        left -= n
                finally:
                    if fd != data_fd:
                        os.close(fd)
                running.hashed.append(part.identity)
                running.next_part += 1
        except FileNotFoundError:  # the upload was completed or discarded meanwhile
            return
        finally:
            if data_fd >= 0:
                os.close(data_fd)

    def _finish_hash(self, upload_id: str, folder: Path, parts: list[_Part]) -> str:
        with self._running_lock:
            running = self._running.pop(upload_id, None) or _RunningHash()
        with running.lock:
            if [p.identity for p in parts[: len(running.hashed)]] != running.hashed:
                running.reset()  # a part was sent again after it was hashed
            self._hash_forward(folder, running, len(parts))
            if running.next_part <= len(parts):
                raise UploadIncomplete("a part changed while the upload was completed; try again")
            return running.digest.hexdigest()

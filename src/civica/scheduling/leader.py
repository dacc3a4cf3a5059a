"""One scheduler leader across processes: a PostgreSQL session advisory lock when the metadata
store is PostgreSQL, an exclusive file lock next to the SQLite file otherwise. The lock dies with
its holder (connection or process), so another process takes over after a crash."""

from __future__ import annotations

import fcntl
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from civica.platform import Platform

log = logging.getLogger("civica.scheduling")
ADVISORY_KEY = 0x63697669636131  # "civica1": the scheduler's advisory lock


class LeaderLock(ABC):
    @abstractmethod
    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this holder has it (now or already)."""

    @abstractmethod
    def still_held(self) -> bool:
        """False when the lock was lost (e.g. the database connection dropped)."""

    @abstractmethod
    def release(self) -> None:
        """Give the lock up (a no-op when not held)."""


class PostgresLeaderLock(LeaderLock):
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return self.still_held()
        conn = self.platform.engine.connect()
        try:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            )
            conn.commit()  # a session lock outlives the transaction; don't sit idle in one
        except Exception:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except Exception:
            log.warning("scheduler: lost the connection holding the leader lock")
            self._drop(invalidate=True)
            return False

    def _drop(self, *, invalidate: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if invalidate:
            conn.invalidate()
        conn.close()

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            self._conn.commit()
            self._drop(invalidate=False)
        except Exception:
            self._drop(invalidate=True)  # closing the connection releases the lock anyway


class FileLeaderLock(LeaderLock):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def leader_lock(platform: Platform) -> LeaderLock:
    """The lock every scheduler sharing this metadata store competes for."""
    url = make_url(platform.settings.metadata_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLeaderLock(platform)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return FileLeaderLock(Path(f"{Path(url.database).resolve()}.scheduler.lock"))
    return FileLeaderLock(platform.settings.data_dir.resolve() / "scheduler.lock")

"""The runner executes one claimed run, wherever an executor put it.

It makes a working folder, materialises the code, sets the environment (a run-only API key with
the owner's permissions, the job and run ids, parameters and credentials), starts the process in
its own process group, streams stdout/stderr into run logs in batches (secrets masked, memory
bounded), enforces memory, running time and cancellation, and records the final state.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from civica.db.engine import database_full
from civica.db.models import JobRow, RunLogRow, RunRow, UserRow
from civica.execution import queue
from civica.execution.params import effective_script, parameter_environment
from civica.execution.procs import RUN_TAG_VAR, run_tag
from civica.execution.runtimes import RUNTIMES, InProcessRuntime, RuntimeUnavailable
from civica.platform import Platform
from civica.services import users
from civica.services.actor import Actor
from civica.services.errors import BadRequest, ServiceError
from civica.storage import StorageError

log = logging.getLogger("civica.execution")

MAX_LINE = 16 * 1024  # longer lines are cut, so one line never holds much memory
CHUNK = 64 * 1024
BATCH_LINES = 5000
BATCH_SECONDS = 0.2
# Lines held while the database cannot write (out of disk, unreachable); past this, new lines
# are counted as lost instead of held.
HELD_LINES = 100_000
MEMORY_CHECK_SECONDS = 0.25
MASK = "********"
CUT = b" [line cut: longer than 16 KiB]"
RUN_KEY_LIFETIME = timedelta(days=7)
DEFAULT_MEMORY_MB = 3000


def outside_env() -> dict[str, str]:
    """What a run inherits from the worker: only PATH and locale, never the server's secrets."""
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL") if k in os.environ}
    keep.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    keep.setdefault("LANG", "C.UTF-8")
    return keep


def api_url(platform: Platform) -> str | None:
    url = platform.settings.public_url or platform.extras.get("api_url")
    return str(url).rstrip("/") + "/" if url else None


# --- Logs ---


class LogSink:
    """Batches log lines into `run_logs`, masking the run's secrets.

    Inserts go straight to the driver (one executemany per batch): at a million lines, SQLAlchemy's
    per-row parameter processing would cost more than the database.
    """

    def __init__(self, platform: Platform, run_id: int, secrets: list[str]) -> None:
        self.platform = platform
        self.run_id = run_id
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        self.pending: list[tuple[int, Any, str, str]] = []
        self.first_at = 0.0
        self.count = 0
        self.lost = 0  # lines not held while the database could not write
        self.failing = False
        dialect = platform.engine.dialect
        self.sqlite = dialect.name == "sqlite"
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.sql = (
            "INSERT INTO run_logs (run_id, created_at, level, message) "
            f"VALUES ({mark}, {mark}, {mark}, {mark})"
        )

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def _stamp(self, at: datetime) -> Any:
        at = at.astimezone(UTC)
        # SQLite stores timestamps as text in SQLAlchemy's format; other drivers take datetimes.
        return at.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else at

    def add(self, level: str, message: str, at: datetime | None = None) -> None:
        self.add_many(level, at or datetime.now(UTC), [message])

    def add_many(self, level: str, at: datetime, messages: list[str]) -> None:
        if not self.pending:
            self.first_at = time.monotonic()
        if self.secrets:
            joined = "\n".join(messages)
            if any(secret in joined for secret in self.secrets):
                messages = [self.mask(m) for m in messages]
        stamp = self._stamp(at)
        run_id = self.run_id
        if len(self.pending) >= HELD_LINES:
            self.lost += len(messages)
            return
        self.pending.extend([(run_id, stamp, level, m) for m in messages])
        if len(self.pending) >= BATCH_LINES:
            self.flush()

    def due(self) -> bool:
        return bool(self.pending) and time.monotonic() - self.first_at >= BATCH_SECONDS

    def flush(self, *, strict: bool = False) -> None:
        """Write the pending lines. When the database cannot write, they are kept for the next
        flush (the run goes on); with `strict`, the error is raised instead."""
        if not self.pending:
            return
        rows = self.pending
        if self.lost:
            note = f"{self.lost} log line(s) were lost while the database could not write"
            rows = [*rows, (self.run_id, self._stamp(datetime.now(UTC)), "warning", note)]
        try:
            with self.platform.engine.begin() as conn:
                conn.exec_driver_sql(self.sql, rows)
        except OperationalError as exc:
            if strict:
                raise
            if not self.failing:  # once per streak of failures
                log.warning("run %s: log lines held, the database failed: %s", self.run_id, exc)
            self.failing = True
            self.first_at = time.monotonic()
            return
        self.pending, self.lost, self.failing = [], 0, False
        self.count += len(rows)


class LineSplitter:
    """Turns a pipe's chunks into lines, cutting lines longer than MAX_LINE (bounded memory)."""

    def __init__(self, level: str) -> None:
        self.level = level
        self.rest = b""
        self.skipping = False  # inside an over-long line whose head was already sent

    def feed(self, chunk: bytes) -> list[str]:
        parts = (self.rest + chunk).split(b"\n")
        self.rest = parts.pop()
        if self.skipping and parts:
            parts.pop(0)  # the tail of an over-long line already sent cut
            self.skipping = False
        parts = [p if len(p) <= MAX_LINE else p[:MAX_LINE] + CUT for p in parts]
        if len(self.rest) > MAX_LINE:
            if not self.skipping:
                parts.append(self.rest[:MAX_LINE] + CUT)
                self.skipping = True
            self.rest = b""
        return [p.decode("utf-8", "replace").rstrip("\r") for p in parts]

    def finish(self) -> list[str]:
        rest, self.rest = self.rest, b""
        if rest and not self.skipping:
            return [rest.decode("utf-8", "replace").rstrip("\r")]
        return []


# --- Process group ---


def group_rss_mb(pgid: int) -> int:
    """Resident memory of every process in a process group, in MiB (Linux /proc)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    try:
        names = os.listdir("/proc")
    except OSError:
        return 0
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 21 and int(fields[2]) == pgid:
            total += int(fields[21]) * page
    return total // (1024 * 1024)


def kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# --- The runner ---


@dataclass
class Setup:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    secrets: list[str]
    notes: list[str]
    memory_mb: int
    cancel_timeout: float
    workdir: Path


@dataclass(frozen=True)
class Claim:
    run: RunRow
    job: JobRow
    owner: UserRow
    actor: Actor


@dataclass
class Control:
    """How a worker talks to a running runner."""

    cancel: threading.Event = field(default_factory=threading.Event)
    reason: str = "cancelled"  # "cancelled", "lost" (no longer ours) or "shutdown"

    def stop(self, reason: str) -> None:
        if not self.cancel.is_set():
            self.reason = reason
            self.cancel.set()


class Runner:
    def __init__(
        self,
        platform: Platform,
        run_id: int,
        worker_id: str,
        control: Control | None = None,
        on_done: Callable[[int], None] | None = None,
    ) -> None:
        self.platform = platform
        self.run_id = run_id
        self.worker_id = worker_id
        self.control = control or Control()
        self.on_done = on_done
        self._sink: LogSink | None = None  # the run's log lines, once its process started
        self._workdir = platform.settings.data_dir.resolve() / "runs" / str(run_id)

    def execute(self) -> str:
        """Run to the end; returns the final state recorded (or "" if the run was not ours)."""
        workdir = self._workdir
        try:
            return self._execute(workdir)
        except StorageError as exc:  # the object store is down or refused: not a bug here
            return self._failed(f"the file store failed: {exc}")
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                return self._crashed(exc)
            return self._failed(f"the server's disk is full ({exc}); free space, then run it again")
        except OperationalError as exc:
            if database_full(exc):
                return self._failed(
                    "the server's disk is full: its metadata database could not record the "
                    "run's progress; free space, then run it again"
                )
            return self._failed(f"the metadata database failed: {exc.orig}")
        except Exception as exc:  # never leave a run running because of a bug here
            return self._crashed(exc)
        finally:
            self._clear_folder()
            if self.on_done is not None:
                self.on_done(self.run_id)

    def _crashed(self, exc: BaseException) -> str:
        log.exception("run %s: runner failed", self.run_id)
        return self._failed(f"the runner failed: {exc}")

    def _failed(self, error: str) -> str:
        log.warning("run %s failed: %s", self.run_id, error)
        self._clear_folder()
        self._record_end("failed", error, None)
        return "failed"

    def _clear_folder(self) -> None:
        """Remove the run's folder (unless kept for debugging): before its end is recorded, so
        a run that filled the disk gives the space back that recording needs."""
        if not self.platform.settings.keep_run_folders:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def _record_end(self, state: str, error: str | None, peak: int | None) -> None:
        """Record the run's end (and its error as a last log line), retrying while the metadata
        database cannot write (out of disk, unreachable): the run must not stay "running" once
        the database is back. Only a shutdown stops the retries; the next start then fails the
        run as one whose worker stopped."""
        delay = 0.5
        while True:
            try:
                if self._sink is not None:
                    self._sink.flush(strict=True)
                if state == "failed" and error:
                    with self.platform.transaction() as session:
                        if session.get(RunRow, self.run_id) is not None:
                            session.add(RunLogRow(run_id=self.run_id, level="error", message=error))
                queue.finish(self.platform, self.run_id, state, error, peak)
                return
            except OperationalError as exc:
                if self.control.cancel.is_set() and self.control.reason == "shutdown":
                    raise
                log.warning(
                    "run %s: cannot record its end yet (%s); retrying in %.0f s",
                    self.run_id,
                    exc.orig,
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, 15.0)

    def _execute(self, workdir: Path) -> str:
        in_process = self._in_process_runtime()
        if in_process is not None:  # SQL: statements run in this thread (execution/sql.py)
            return in_process.execute(self, workdir)
        try:
            setup = self._setup(workdir)
        except (ServiceError, RuntimeUnavailable) as exc:
            message = exc.description if isinstance(exc, ServiceError) else str(exc)
            return self._end("failed", message, None)
        if setup is None:
            return ""
        sink = LogSink(self.platform, self.run_id, setup.secrets)
        for note in setup.notes:
            sink.add("info", note)
        self._sink = sink
        state, error, peak = self._supervise(setup, sink)
        return self._end(state, error, peak)

    def _in_process_runtime(self) -> InProcessRuntime | None:
        try:
            with self.platform.transaction() as session:
                run = session.get(RunRow, self.run_id)
                job = session.get(JobRow, run.job_id) if run is not None else None
                if job is None:
                    return None
                runtime = RUNTIMES.get(effective_script(session, job).kind)
        except ServiceError:
            return None
        return runtime if isinstance(runtime, InProcessRuntime) else None

    def _end(self, state: str, error: str | None, peak: int | None) -> str:
        """Remove the run's folder, then record how the run ended."""
        self._clear_folder()
        self._record_end(state, error, peak)
        return state

    def claimed(self, session: Session) -> Claim | None:
        """This run, its job and the job's owner, while the run is still running and ours (None
        once it was ended or taken elsewhere: then the runner has nothing to do). Every runtime
        starts here, in its own transaction."""
        run = session.get(RunRow, self.run_id)
        if run is None or run.state != "running" or run.worker_id != self.worker_id:
            return None
        job = session.get(JobRow, run.job_id)
        owner = session.get(UserRow, job.owner_id) if job is not None else None
        if job is None or owner is None:
            raise BadRequest("the job or its owner no longer exists")
        return Claim(run, job, owner, users.actor_for(session, owner))

    def log(self, message: str, level: str = "info", session: Session | None = None) -> None:
        """A log line for this run (runtimes that run in the worker report progress with it):
        in `session` when given (one commit with what the run records), else on its own."""
        if session is not None:
            session.add(RunLogRow(run_id=self.run_id, level=level, message=message))
            return
        with self.platform.transaction() as own:
            own.add(RunLogRow(run_id=self.run_id, level=level, message=message))

    def _setup(self, workdir: Path) -> Setup | None:
        settings = self.platform.settings
        with self.platform.transaction() as session:
            claim = self.claimed(session)
            if claim is None:
                return None
            run, job, owner = claim.run, claim.job, claim.owner
            script = effective_script(session, job)
            runtime = RUNTIMES.get(script.kind)
            if runtime is None:
                raise RuntimeUnavailable(f"jobs of kind {script.kind!r} cannot run on this worker")
            endpoint = api_url(self.platform)
            if endpoint is None:
                raise RuntimeUnavailable(
                    "the worker does not know the API's address for CIVIS_API_ENDPOINT: set "
                    "CIVICA_PUBLIC_URL (e.g. http://127.0.0.1:8000)"
                )
            params = parameter_environment(session, self.platform.secrets, claim.actor, script)
            key_row, key = users.issue_api_key(
                session=session,
                user=owner,
                name=f"run {run.id} of job {job.id}",
                expires_in=RUN_KEY_LIFETIME,
            )
            run.api_key_id = key_row.id
            resources = script.config.get("required_resources") or {}
            memory = int(resources.get("memory") or DEFAULT_MEMORY_MB)
            cancel_timeout = script.config.get("cancel_timeout")
            time_zone = script.config.get("time_zone") or "UTC"
            job_id = job.id
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        (workdir / "tmp").mkdir()
        program = runtime.program(workdir, script.config)
        env = {
            **outside_env(),
            **params.variables,
            "HOME": str(workdir),
            "TMPDIR": str(workdir / "tmp"),
            "TZ": str(time_zone),
            "PYTHONUNBUFFERED": "1",
            "CIVIS_API_ENDPOINT": endpoint,
            "CIVIS_API_KEY": key,
            "CIVIS_JOB_ID": str(job_id),
            "CIVIS_RUN_ID": str(self.run_id),
            RUN_TAG_VAR: run_tag(self.worker_id, self.run_id),
        }
        return Setup(
            argv=program.argv,
            cwd=program.cwd,
            env=env,
            secrets=[key, *params.secrets],
            notes=program.notes,
            memory_mb=memory,
            cancel_timeout=float(
                cancel_timeout if cancel_timeout is not None else settings.default_cancel_timeout
            ),
            workdir=workdir,
        )

    def _supervise(self, setup: Setup, sink: LogSink) -> tuple[str, str | None, int | None]:
        settings = self.platform.settings
        try:
            proc = subprocess.Popen(
                setup.argv,
                cwd=setup.cwd,
                env=setup.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return "failed", f"the process could not start: {exc}", None
        pgid = proc.pid
        # One thread reads both pipes (a selector); while it writes to the database the pipes
        # fill and the process waits, so a chatty script never grows the server's memory.
        selector = selectors.DefaultSelector()
        pipes: list[IO[bytes]] = [p for p in (proc.stdout, proc.stderr) if p is not None]
        for pipe, level in zip(pipes, ("info", "error"), strict=True):
            os.set_blocking(pipe.fileno(), False)
            selector.register(pipe, selectors.EVENT_READ, LineSplitter(level))
        started = time.monotonic()
        limit = settings.max_run_seconds
        peak = 0
        next_memory_check = started + MEMORY_CHECK_SECONDS
        outcome: tuple[str, str | None] | None = None
        term_deadline: float | None = None
        exited_at: float | None = None
        while selector.get_map() or proc.poll() is None:
            if selector.get_map():
                for key, _ in selector.select(timeout=0.05):
                    splitter: LineSplitter = key.data
                    try:
                        chunk = os.read(key.fd, CHUNK)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    if chunk:
                        got = splitter.feed(chunk)
                    else:
                        selector.unregister(key.fileobj)
                        got = splitter.finish()
                    if got:
                        sink.add_many(splitter.level, datetime.now(UTC), got)
            else:  # both pipes closed: only the exit is left to wait for
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.05)
            if sink.due():
                sink.flush()
            now = time.monotonic()
            if proc.poll() is not None:
                # The main process ended: stop what it left behind so the pipes close.
                if exited_at is None:
                    exited_at = now
                    kill_group(pgid, signal.SIGKILL)
                elif now - exited_at > 5:
                    break
                continue
            if outcome is None:
                if self.control.cancel.is_set():
                    outcome = self._stopped_outcome()
                elif limit and now - started > limit:
                    outcome = (
                        "failed",
                        f"Process ran longer than the {limit:g} seconds a run may take "
                        "(CIVICA_MAX_RUN_SECONDS) and was stopped.",
                    )
                elif now >= next_memory_check:
                    next_memory_check = now + MEMORY_CHECK_SECONDS
                    rss = group_rss_mb(pgid)
                    peak = max(peak, rss)
                    if rss > setup.memory_mb:
                        outcome = (
                            "failed",
                            f"Process ran out of its allowed memory: it used {rss} MiB of the "
                            f"{setup.memory_mb} MiB in required_resources.memory. Ask for more "
                            "memory, or make the script use less.",
                        )
                        kill_group(pgid, signal.SIGKILL)
                if outcome is not None and term_deadline is None:
                    kill_group(pgid, signal.SIGTERM)
                    grace = setup.cancel_timeout if outcome[0] == "cancelled" else 0.0
                    if self.control.reason == "shutdown":
                        grace = min(grace, 2.0)
                    term_deadline = now + grace
            if term_deadline is not None and now >= term_deadline:
                kill_group(pgid, signal.SIGKILL)
        code = proc.wait()
        selector.close()
        for pipe in pipes:
            with contextlib.suppress(OSError):
                pipe.close()
        peak_mb = peak or None
        if outcome is not None:
            return outcome[0], outcome[1], peak_mb
        if code == 0:
            return "succeeded", None, peak_mb
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return "failed", f"Process was killed by signal {name}.", peak_mb
        return "failed", f"Process exited with code {code}.", peak_mb

    def _stopped_outcome(self) -> tuple[str, str | None]:
        reason = self.control.reason
        if reason == "shutdown":
            return "failed", "the worker running it stopped (server shutdown); run the job again."
        if reason == "lost":
            return "failed", "the run was ended elsewhere (cancelled or failed by another worker)."
        return "cancelled", None

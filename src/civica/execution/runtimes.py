"""How each kind of script becomes a process: the files it needs and the command that runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class RuntimeUnavailable(Exception):
    """The run cannot start on this worker; the message says why and what would fix it."""


@dataclass
class Program:
    argv: list[str]
    cwd: Path
    # Lines for the run's log before the process starts (what was set up, and any caveats).
    notes: list[str] = field(default_factory=list)


class Runtime(ABC):
    """Materialises one kind of script in a working folder."""

    @abstractmethod
    def program(self, workdir: Path, config: dict[str, Any]) -> Program: ...


class InProcessRuntime(Runtime):
    """A kind that runs inside the worker's own thread instead of as a process."""

    def program(self, workdir: Path, config: dict[str, Any]) -> Program:
        raise RuntimeUnavailable("this kind runs inside the worker, not as a process")

    @abstractmethod
    def execute(self, runner: Any, workdir: Path) -> str:
        """Run `runner`'s run to its end; returns the final state (as Runner.execute does)."""


class SqlRuntime(InProcessRuntime):
    """Queries, SQL scripts and imports (database to database syncs): statements go to the
    database through the warehouse layer (civica.execution.sql), in the worker. A subprocess
    would gain nothing and lose much: the embedded DuckDB file can only be opened by one
    process (the server holds it), cancelling would have to kill a process instead of
    interrupting the statement, and every run would pay an interpreter start."""

    def __init__(self, imports: bool = False) -> None:
        self.imports = imports

    def execute(self, runner: Any, workdir: Path) -> str:
        from civica.execution.sql import execute_import_run, execute_sql_run

        if self.imports:
            return execute_import_run(runner, workdir)
        return execute_sql_run(runner, workdir)


class ModelRuntime(InProcessRuntime):
    """Model builds and predictions (civica.modeling.runs): the worker reads and writes tables
    through the warehouse layer (the embedded DuckDB file is the server process's alone) and
    fits or scores in a supervised subprocess, so cancelling kills the fit."""

    def __init__(self, scoring: bool = False) -> None:
        self.scoring = scoring

    def execute(self, runner: Any, workdir: Path) -> str:
        from civica.modeling.runs import execute_build_run, execute_prediction_run

        if self.scoring:
            return execute_prediction_run(runner, workdir)
        return execute_build_run(runner, workdir)


class PreprocessRuntime(InProcessRuntime):
    """CSV preprocess jobs: detection with an in-memory DuckDB and a UTF-8 copy of the file, in
    the worker (civica.execution.csv_import)."""

    def execute(self, runner: Any, workdir: Path) -> str:
        from civica.execution.csv_import import execute_preprocess

        return execute_preprocess(runner, workdir)


class SourceRuntime(Runtime):
    """A script whose code is its `source`, run by one interpreter."""

    def __init__(self, filename: str, interpreter: list[str], missing: str) -> None:
        self.filename = filename
        self.interpreter = interpreter
        self.missing = missing

    def program(self, workdir: Path, config: dict[str, Any]) -> Program:
        exe = self.interpreter[0]
        if shutil.which(exe) is None and not Path(exe).is_file():
            raise RuntimeUnavailable(self.missing)
        path = workdir / self.filename
        path.write_text(str(config.get("source") or ""), encoding="utf-8")
        return Program(argv=[*self.interpreter, str(path)], cwd=workdir)


class ContainerRuntime(Runtime):
    """`docker_command` via /bin/sh on the worker host, in a clone of `repo_http_uri` if given.

    No container runtime is configured, so the image is not used; the run's log says so.
    """

    def program(self, workdir: Path, config: dict[str, Any]) -> Program:
        command = str(config.get("docker_command") or "").strip()
        if not command:
            raise RuntimeUnavailable(
                "this container script has no docker_command, and without a container runtime "
                "there is no image entrypoint to fall back to; set docker_command"
            )
        notes = []
        image = config.get("docker_image_name")
        if image:
            tag = config.get("docker_image_tag") or "latest"
            notes.append(
                f"No container runtime is configured on this worker: running docker_command with "
                f"/bin/sh on the host instead of in {image}:{tag}."
            )
        cwd = workdir
        repo = str(config.get("repo_http_uri") or "").strip()
        if repo:
            cwd = workdir / "app"
            notes.append(clone(repo, config.get("repo_ref"), cwd))
        return Program(argv=["/bin/sh", "-c", command], cwd=cwd, notes=notes)


def _git_url(repo: str) -> str:
    if "://" in repo or repo.startswith(("/", "git@")):
        return repo
    return "https://" + repo


def clone(repo: str, ref: Any, into: Path) -> str:
    """Clone `repo` at `ref` (a branch, tag or commit) into `into`; returns a log line."""
    if shutil.which("git") is None:
        raise RuntimeUnavailable(
            "git is not installed on this worker, so repo_http_uri cannot "
            "be cloned; install git on the worker machines"
        )
    url = _git_url(repo)
    env = {"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"}

    def git(*args: str, cwd: Path | None = None) -> None:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeUnavailable(
                f"could not clone repo_http_uri {repo!r} at repo_ref {ref or 'default branch'!r}: "
                f"{detail[-1] if detail else 'git failed'}; check the address, the ref and that "
                "the repository is reachable from the worker"
            )

    git("clone", "--quiet", url, str(into))
    if ref:
        git("checkout", "--quiet", str(ref), cwd=into)
    return f"Cloned {repo} at {ref or 'its default branch'} into the working folder."


RUNTIMES: dict[str, Runtime] = {
    "python3": SourceRuntime(
        "script.py",
        [sys.executable, "-u"],
        "the Python interpreter of this worker is missing",
    ),
    "r": SourceRuntime(
        "script.R",
        ["Rscript"],
        "R is not installed on this worker: Rscript was not found on PATH. Install R "
        "(e.g. the r-base package) on the worker machines to run R scripts.",
    ),
    "javascript": SourceRuntime(
        "script.js",
        ["node"],
        "Node.js is not installed on this worker: node was not found on PATH. Install Node.js "
        "on the worker machines to run JavaScript scripts.",
    ),
    "container": ContainerRuntime(),
    "sql": SqlRuntime(),
    "query": SqlRuntime(),
    "import": SqlRuntime(imports=True),
    "model": ModelRuntime(),
    "prediction": ModelRuntime(scoring=True),
}


class ReportSnapshotRuntime(InProcessRuntime):
    """Report snapshots: headless Chromium renders the report's page (civica.reports.snapshots);
    the worker thread supervises the browser process and stores the PNG."""

    def execute(self, runner: Any, workdir: Path) -> str:
        from civica.reports.snapshots import execute_snapshot_run

        return execute_snapshot_run(runner, workdir)


RUNTIMES["report_snapshot"] = ReportSnapshotRuntime()
# File imports (batches, CSV imports) and CSV preprocess jobs: civica.execution.csv_import.
RUNTIMES["batch_import"] = SqlRuntime(imports=True)
RUNTIMES["csv_import"] = SqlRuntime(imports=True)
RUNTIMES["preprocess_csv"] = PreprocessRuntime()

"""R, JavaScript and container scripts: each runtime end to end (R only where Rscript exists;
where it does not, the run must fail saying so)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from civica.execution.worker import Worker
from tests.conftest import LiveServer
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]

HAS_R = shutil.which("Rscript") is not None


def run_to_end(c: httpx.Client, path: str, sid: int) -> tuple[dict[str, object], list[str]]:
    r = c.post(f"/{path}/{sid}/runs")
    assert r.status_code == 202, r.text
    done = wait_run(c, f"/{path}/{sid}/runs/{r.json()['id']}")
    logs = c.get(f"/{path}/{sid}/runs/{r.json()['id']}/logs").json()
    return done, [entry["message"] for entry in logs]


def test_javascript_script(live: LiveServer, worker: Worker, admin: httpx.Client) -> None:
    source = "console.log('hello from node ' + process.env.CIVIS_JOB_ID + ' ' + process.env.N)"
    r = admin.post(
        "/scripts/javascript",
        json={
            "name": "js", "source": source, "remoteHostId": 1, "credentialId": 1,
            "params": [{"name": "n", "type": "integer", "default": "5"}],
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["type"] == "JobTypes::JavaScript" and r.json()["remoteHostId"] == 1
    done, logs = run_to_end(admin, "scripts/javascript", sid)
    assert done["state"] == "succeeded" and done["javascriptId"] == sid
    assert logs == [f"hello from node {sid} 5"]
    r = admin.post("/scripts/javascript", json={"name": "js", "source": "1"})
    assert r.status_code == 400 and "remote_host_id is required" in r.json()["errorDescription"]


def test_r_script_fails_clearly_without_r(
    live: LiveServer, worker: Worker, admin: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civica.execution.runtimes import RUNTIMES, SourceRuntime

    r_runtime = RUNTIMES["r"]
    assert isinstance(r_runtime, SourceRuntime)
    # A worker where R is missing: its Rscript is not on PATH.
    monkeypatch.setattr(r_runtime, "interpreter", ["civica-no-such-Rscript"])
    sid = admin.post("/scripts/r", json={"name": "r", "source": "print(1)"}).json()["id"]
    done, logs = run_to_end(admin, "scripts/r", sid)
    assert done["state"] == "failed" and "R is not installed" in str(done["error"])
    assert logs == [done["error"]]


@pytest.mark.skipif(not HAS_R, reason="Rscript is not installed on this machine")
def test_r_script_runs(live: LiveServer, worker: Worker, admin: httpx.Client) -> None:
    source = "cat('hello from R', Sys.getenv('CIVIS_JOB_ID'), '\\n')"
    sid = admin.post("/scripts/r", json={"name": "r", "source": source}).json()["id"]
    done, logs = run_to_end(admin, "scripts/r", sid)
    assert done["state"] == "succeeded" and logs == [f"hello from R {sid} "]


R_API_CALL = """
n <- as.integer(Sys.getenv("N")) * 2L
cat("n doubled", n, "\\n")
cat("db user", Sys.getenv("DB_USERNAME"), "\\n")
endpoint <- sub("/$", "", Sys.getenv("CIVIS_API_ENDPOINT"))
job <- Sys.getenv("CIVIS_JOB_ID")
con <- url(paste0(endpoint, "/jobs/", job), method = "libcurl",
           headers = c(Authorization = paste("Bearer", Sys.getenv("CIVIS_API_KEY"))))
body <- paste(readLines(con, warn = FALSE), collapse = "")
close(con)
cat("api says", regmatches(body, regexpr('"name":"[^"]*"', body)), "\\n")
cat("run", Sys.getenv("CIVIS_RUN_ID"), "\\n")
"""


@pytest.mark.skipif(not HAS_R, reason="Rscript is not installed on this machine")
def test_r_script_gets_parameters_and_calls_the_api(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    cred = admin.post(
        "/credentials",
        json={"type": "Custom", "username": "reader", "password": "r-secret-1234"},
    )
    assert cred.status_code == 200, cred.text
    r = admin.post(
        "/scripts/r",
        json={
            "name": "r-api", "source": R_API_CALL,
            "params": [{"name": "n", "type": "integer", "required": True},
                       {"name": "db", "type": "credential_custom"}],
            "arguments": {"n": 21, "db": cred.json()["id"]},
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    done, logs = run_to_end(admin, "scripts/r", sid)
    assert done["state"] == "succeeded", logs
    assert logs == [
        "n doubled 42 ",
        "db user reader ",
        'api says "name":"r-api" ',
        f"run {done['id']} ",
    ]


@pytest.mark.skipif(not HAS_R, reason="Rscript is not installed on this machine")
def test_r_script_error_fails_the_run(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    source = "cat('before\\n')\nstop('the data is wrong')\ncat('never\\n')"
    sid = admin.post("/scripts/r", json={"name": "r", "source": source}).json()["id"]
    done, logs = run_to_end(admin, "scripts/r", sid)
    assert done["state"] == "failed" and done["error"] == "Process exited with code 1."
    assert logs[0] == "before" and any("the data is wrong" in line for line in logs)
    assert "never" not in logs


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a `v1` tag and a newer commit on the default branch."""
    path = tmp_path / "repo"
    path.mkdir()

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (path / "VERSION").write_text("one\n")
    git("add", ".")
    git("commit", "-qm", "one")
    git("tag", "v1")
    (path / "VERSION").write_text("two\n")
    git("commit", "-qam", "two")
    return path


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_container_script_clones_the_repo_and_runs_the_command(
    live: LiveServer, worker: Worker, admin: httpx.Client, repo: Path
) -> None:
    body = {
        "name": "ct",
        "requiredResources": {"cpu": 64, "memory": 128},
        "repoHttpUri": f"file://{repo}",
        "repoRef": "v1",
        "dockerCommand": 'cat VERSION && echo "$GREETING"',
        "dockerImageName": "civisanalytics/datascience-python",
        "params": [{"name": "greeting", "type": "string", "default": "hi"}],
    }
    r = admin.post("/scripts/containers", json=body)
    assert r.status_code == 201, r.text
    view = r.json()
    for key in ("dockerImageTag", "gitCredentialId", "remoteHostCredentialId", "cancelTimeout"):
        assert key in view  # civis.parallel reads them all
    done, logs = run_to_end(admin, "scripts/containers", view["id"])
    assert done["state"] == "succeeded", logs
    assert logs[0].startswith("No container runtime is configured on this worker")
    assert logs[1].startswith("Cloned ") and logs[2:] == ["one", "hi"]
    r = admin.patch(f"/scripts/containers/{view['id']}", json={"repoRef": "no-such-ref"})
    assert r.status_code == 200
    done, logs = run_to_end(admin, "scripts/containers", view["id"])
    assert done["state"] == "failed" and "repo_ref 'no-such-ref'" in str(done["error"])


def test_container_without_command_fails_clearly(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    r = admin.post("/scripts/containers", json={"requiredResources": {"cpu": 64, "memory": 64}})
    assert r.status_code == 201, r.text
    done, _ = run_to_end(admin, "scripts/containers", r.json()["id"])
    assert done["state"] == "failed" and "docker_command" in str(done["error"])


def test_container_runs_worker_api(live: LiveServer, admin: httpx.Client) -> None:
    """Logs, heartbeats and failure reported from outside, as an external runner would."""
    r = admin.post("/scripts/containers", json={"requiredResources": {"cpu": 64, "memory": 64}})
    sid = r.json()["id"]
    rid = admin.post(f"/scripts/containers/{sid}/runs").json()["id"]
    base = f"/scripts/containers/{sid}/runs/{rid}"
    r = admin.post(
        f"{base}/logs", json={"messages": [{"message": "a"}, {"message": "b", "level": "warn"}]}
    )
    assert r.status_code == 204, r.text
    assert admin.post(f"{base}/logs", json={"message": "c", "level": "loud"}).status_code == 400
    assert [e["level"] for e in admin.get(f"{base}/logs").json()] == ["info", "warn"]
    assert admin.post(f"{base}/heartbeats").status_code == 409  # queued, not running
    assert admin.patch(base, json={"error": "external failure"}).status_code == 204
    assert admin.get(base).json()["state"] == "failed"
    assert admin.get(base).json()["error"] == "external failure"

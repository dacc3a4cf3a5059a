"""The public `civis` client's job helpers against civica: run_job futures (success, failure,
cancel), job_logs, run outputs, and run_template over a published template."""

from __future__ import annotations

import civis
import pytest
from civis.base import CivisJobFailure

from civica.execution.worker import Worker
from tests.conftest import LiveServer
from tests.workers import settings, worker

__all__ = ["settings", "worker"]


@pytest.fixture
def client(live: LiveServer, worker: Worker, monkeypatch: pytest.MonkeyPatch) -> civis.APIClient:
    """A client with a fresh user's key (civis caches the spec per key)."""
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    _, key = live.new_user()
    return civis.APIClient(api_key=key)


def python_script(client: civis.APIClient, source: str, **kw: object) -> int:
    return int(client.scripts.post_python3("compat", source, **kw)["id"])


def test_run_job_future_succeeds_and_reads_outputs(client: civis.APIClient) -> None:
    source = (
        "import civis, os\n"
        "c = civis.APIClient()\n"
        "jv = c.json_values.post('{\"rows\": 3}', name='summary')\n"
        "c.scripts.post_python3_runs_outputs(int(os.environ['CIVIS_JOB_ID']),"
        " int(os.environ['CIVIS_RUN_ID']), 'JSONValue', jv['id'])\n"
        "print('done')\n"
    )
    job_id = python_script(client, source)
    future = civis.utils.run_job(job_id, client=client, polling_interval=0.1)
    result = future.result(timeout=60)
    assert result["state"] == "succeeded"
    outputs = future.outputs()
    assert [(o["name"], o["object_type"], o["value"]) for o in outputs] == [
        ("summary", "JSONValue", {"rows": 3})
    ]


def test_a_failing_script_raises_civis_job_failure(client: civis.APIClient) -> None:
    job_id = python_script(client, "import sys\nsys.exit(7)\n")
    future = civis.utils.run_job(job_id, client=client, polling_interval=0.1)
    with pytest.raises(CivisJobFailure, match="Process exited with code 7"):
        future.result(timeout=60)


def test_cancel_a_long_run(client: civis.APIClient) -> None:
    job_id = python_script(client, "import time\ntime.sleep(120)\n", cancel_timeout=1)
    future = civis.utils.run_job(job_id, client=client, polling_interval=0.1)
    assert future.cancel() is True
    assert future.cancelled()
    run = client.jobs.get_runs(job_id, future.run_id)
    assert run["state"] == "cancelled"


def test_job_logs_yields_the_lines(client: civis.APIClient) -> None:
    job_id = python_script(client, "for i in range(300):\n    print(f'line {i}')\n")
    civis.utils.run_job(job_id, client=client, polling_interval=0.1).result(timeout=60)
    lines = [log["message"] for log in civis.utils.job_logs(job_id, client=client)]
    assert lines == [f"line {i}" for i in range(300)]


def test_run_template_over_a_container_template(live: LiveServer, client: civis.APIClient) -> None:
    backing = client.scripts.post_containers(
        {"cpu": 64, "memory": 128},
        name="template body",
        docker_command='echo "hello $WHO"',
        params=[{"name": "WHO", "type": "string", "required": True}],
    )
    template = client.templates.post_scripts(backing["id"], "greeter")
    assert client.templates.get_scripts(template["id"])["script_id"] == backing["id"]
    custom = client.scripts.post_custom(template["id"], arguments={"WHO": "world"})
    container_view = client.scripts.get_containers(custom["id"])
    assert container_view["from_template_id"] == template["id"]
    future = civis.utils.run_job(custom["id"], client=client, polling_interval=0.1)
    future.result(timeout=60)
    lines = [log["message"] for log in civis.utils.job_logs(custom["id"], client=client)]
    assert "hello world" in lines
    run = client.scripts.get_containers_runs(custom["id"], future.run_id)
    assert run["state"] == "succeeded"

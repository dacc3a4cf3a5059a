"""Python 3 scripts over HTTP: create/read/replace/update, runs, logs, outputs, parameters,
credentials, shares, projects, archive, and the `/scripts` operations shared by every type."""

from __future__ import annotations

import time

import httpx

from civica.execution.worker import Worker
from tests.conftest import LiveServer
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]


def create(c: httpx.Client, source: str, **extra: object) -> dict[str, object]:
    r = c.post("/scripts/python3", json={"name": "py", "source": source, **extra})
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def test_create_read_replace_update(live: LiveServer) -> None:
    uid, key = live.new_user("pyauthor")
    with live.client(key) as c:
        s = create(
            c,
            "print(1)",
            params=[{"name": "greeting", "type": "string", "default": "hi"}],
            arguments={"greeting": "hello"},
            requiredResources={"cpu": 512, "memory": 256},
        )
        assert s["type"] == "JobTypes::PythonDocker" and s["state"] == "idle"
        assert s["author"]["id"] == uid and s["source"] == "print(1)"  # type: ignore[index]
        assert s["requiredResources"] == {"cpu": 512, "memory": 256, "diskSpace": None}
        assert s["params"][0]["name"] == "greeting" and s["arguments"] == {"greeting": "hello"}  # type: ignore[index]
        assert s["links"]["runs"] == f"/scripts/python3/{s['id']}/runs"  # type: ignore[index]
        sid = s["id"]
        r = c.patch(f"/scripts/python3/{sid}", json={"name": "renamed", "source": None})
        assert r.status_code == 200 and r.json()["name"] == "renamed"
        assert r.json()["source"] == "print(1)" and r.json()["arguments"] == {"greeting": "hello"}
        r = c.put(f"/scripts/python3/{sid}", json={"name": "replaced", "source": "print(2)"})
        assert r.status_code == 200, r.text
        assert r.json()["params"] == [] and r.json()["requiredResources"]["memory"] == 3000
        assert c.get(f"/scripts/python3/{sid}").json()["source"] == "print(2)"
        generic = c.get(f"/scripts/{sid}").json()
        assert generic["name"] == "replaced" and generic["type"] == "JobTypes::PythonDocker"
        r = c.patch(f"/scripts/{sid}", json={"name": "via generic"})
        assert r.status_code == 200 and r.json()["name"] == "via generic"
        assert c.get("/scripts/types").json()[0] == {"name": "python3"}


def test_bad_input_is_a_clear_4xx(live: LiveServer, admin: httpx.Client) -> None:
    r = admin.post("/scripts/python3", json={"name": "x"})
    assert r.status_code == 400 and "source is required" in r.json()["errorDescription"]
    r = admin.post("/scripts/python3", json={"name": "x", "source": "", "params": [{"name": "1x"}]})
    assert r.status_code == 400 and "params[0].name" in r.json()["errorDescription"]
    r = admin.post(
        "/scripts/python3", json={"name": "x", "source": "", "params": [{"name": "a", "type": "x"}]}
    )
    assert r.status_code == 400 and "params[0].type must be one of" in r.text
    r = admin.post("/scripts/python3", json={"name": "x", "source": "", "arguments": {"b": 1}})
    assert r.status_code == 400 and "declare them in params" in r.json()["errorDescription"]
    r = admin.post(
        "/scripts/python3", json={"name": "x", "source": "", "requiredResources": {"memory": 1}}
    )
    assert r.status_code == 400 and "required_resources.memory" in r.json()["errorDescription"]
    r = admin.post("/scripts/python3", json={"name": "x", "source": "", "timeZone": "Mars/Base"})
    assert r.status_code == 400 and "time_zone" in r.json()["errorDescription"]
    r = admin.post("/scripts/python3", json={"name": "x", "source": "", "parentId": 999999})
    assert r.status_code == 400 and "parent_id" in r.json()["errorDescription"]
    assert admin.get("/scripts/python3/999999").status_code == 404
    assert admin.get("/scripts/python3/abc").status_code == 400
    assert admin.get("/scripts", params={"type": "cobol"}).status_code == 400
    assert admin.get("/scripts", params={"status": "sleepy"}).status_code == 400
    assert admin.get("/jobs/1/runs/None/logs").status_code == 400
    sid = create(admin, "pass")["id"]
    r = admin.put(f"/scripts/python3/{sid}", json={"name": "loop", "source": "", "parentId": sid})
    assert r.status_code == 400 and "loop" in r.json()["errorDescription"]
    r = admin.post(f"/scripts/python3/{sid}/runs/1/outputs", json={"objectType": "File"})
    assert r.status_code == 400 and "object_id is required" in r.json()["errorDescription"]


def test_run_logs_headers_and_states(live: LiveServer, worker: Worker) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        sid = create(c, "import time\nprint('one')\nprint('two')\ntime.sleep(0.3)\n")["id"]
        run = c.post(f"/scripts/python3/{sid}/runs")
        assert run.status_code == 202, run.text
        assert run.json()["pythonId"] == sid and run.json()["state"] in ("queued", "running")
        rid = run.json()["id"]
        done = wait_run(c, f"/scripts/python3/{sid}/runs/{rid}")
        assert done["state"] == "succeeded" and done["error"] is None
        assert done["startedAt"] and done["finishedAt"] and not done["isCancelRequested"]
        logs = c.get(f"/scripts/python3/{sid}/runs/{rid}/logs")
        assert [entry["message"] for entry in logs.json()] == ["one", "two"]
        assert logs.headers["civis-cache-control"].startswith("max-age=")
        assert logs.headers["civis-max-id"] == str(logs.json()[-1]["id"])
        first = logs.json()[0]["id"]
        later = c.get(f"/scripts/python3/{sid}/runs/{rid}/logs", params={"last_id": first})
        assert [entry["message"] for entry in later.json()] == ["two"]
        assert (
            c.get(f"/scripts/python3/{sid}/runs/{rid}/logs", params={"limit": 0}).status_code == 400
        )
        script = c.get(f"/scripts/python3/{sid}").json()
        assert script["state"] == "succeeded" and script["lastRun"]["id"] == rid
        runs = c.get(f"/scripts/python3/{sid}/runs").json()
        assert [r["id"] for r in runs] == [rid]
        history = c.get(f"/scripts/{sid}/history").json()
        assert history[0]["id"] == rid and history[0]["state"] == "succeeded"


def test_failing_script_reports_the_error(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    sid = create(admin, "raise SystemExit('bad input file')")["id"]
    rid = admin.post(f"/scripts/python3/{sid}/runs").json()["id"]
    done = wait_run(admin, f"/scripts/python3/{sid}/runs/{rid}")
    assert done["state"] == "failed" and done["error"] == "Process exited with code 1."
    logs = admin.get(f"/jobs/{sid}/runs/{rid}/logs").json()
    assert logs[0] == {**logs[0], "message": "bad input file", "level": "error"}


def test_cancel_a_running_script(live: LiveServer, worker: Worker, admin: httpx.Client) -> None:
    sid = create(admin, "import time\nprint('go', flush=True)\ntime.sleep(60)", cancelTimeout=1)[
        "id"
    ]
    rid = admin.post(f"/scripts/python3/{sid}/runs").json()["id"]
    wait_run(admin, f"/scripts/python3/{sid}/runs/{rid}", states=("running",))
    r = admin.delete(f"/scripts/python3/{sid}/runs/{rid}")
    assert r.status_code == 202 and r.json() == {
        "id": rid,
        "state": "cancelled",
        "isCancelRequested": True,
    }
    assert admin.get(f"/scripts/python3/{sid}/runs/{rid}").json()["state"] == "cancelled"
    # Cancelling a finished run changes nothing.
    assert admin.delete(f"/scripts/python3/{sid}/runs/{rid}").json()["state"] == "cancelled"
    # `POST /scripts/{id}/cancel` cancels the newest live run, and 404s when there is none.
    rid2 = admin.post(f"/scripts/python3/{sid}/runs").json()["id"]
    r = admin.post(f"/scripts/{sid}/cancel")
    assert r.status_code == 202 and r.json()["id"] == rid2 and r.json()["state"] == "cancelled"
    assert admin.post(f"/scripts/{sid}/cancel").status_code == 404


def test_parameters_and_credentials_become_environment(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    cred = admin.post(
        "/credentials",
        json={"type": "Custom", "username": "svc-user", "password": "s3cr3t-pass-word"},
    )
    assert cred.status_code == 200, cred.text
    source = (
        "import os\n"
        "print(os.environ['TABLE'], os.environ['LIMIT'], os.environ['DRY_RUN'])\n"
        "print(os.environ['LOGIN_USERNAME'], os.environ['LOGIN_PASSWORD'])\n"
        "print('SECRET_KEY' in os.environ, 'CIVICA_ADMIN_API_KEY' in os.environ)\n"
    )
    params = [
        {"name": "table", "type": "string", "required": True},
        {"name": "limit", "type": "integer", "default": "10"},
        {"name": "dry_run", "type": "bool", "default": "yes"},
        {"name": "login", "type": "credential_custom", "required": True},
    ]
    s = create(admin, source, params=params, arguments={"table": "t1"})
    r = admin.post(f"/scripts/python3/{s['id']}/runs")
    assert r.status_code == 400 and "'login' is required" in r.json()["errorDescription"]
    r = admin.patch(
        f"/scripts/python3/{s['id']}",
        json={"arguments": {"table": "t1", "login": cred.json()["id"]}},
    )
    assert r.status_code == 200, r.text
    rid = admin.post(f"/scripts/python3/{s['id']}/runs").json()["id"]
    done = wait_run(admin, f"/scripts/python3/{s['id']}/runs/{rid}")
    assert done["state"] == "succeeded", done
    logs = [e["message"] for e in admin.get(f"/jobs/{s['id']}/runs/{rid}/logs").json()]
    assert logs == ["t1 10 true", "svc-user ********", "False False"]


def test_outputs_json_values_and_projects(live: LiveServer, worker: Worker) -> None:
    _, key = live.new_user("outputter")
    _, other = live.new_user("other_outputter")
    with live.client(other) as c:
        foreign = c.post("/json_values", json={"name": "theirs", "valueStr": "1"}).json()["id"]
    source = (
        "import os, httpx\n"
        "c = httpx.Client(base_url=os.environ['CIVIS_API_ENDPOINT'],"
        " auth=(os.environ['CIVIS_API_KEY'], ''))\n"
        "body = {'name': 'metrics', 'value_str': '{\"auc\": 0.9}'}\n"
        "jv = c.post('/json_values', json=body).json()\n"
        "job, run = os.environ['CIVIS_JOB_ID'], os.environ['CIVIS_RUN_ID']\n"
        "r = c.post(f'/scripts/python3/{job}/runs/{run}/outputs',"
        " json={'object_type': 'JSONValue', 'object_id': jv['id']})\n"
        "print(r.status_code, r.json()['name'])\n"
    )
    with live.client(key) as c:
        sid = create(c, source)["id"]
        rid = c.post(f"/scripts/python3/{sid}/runs").json()["id"]
        done = wait_run(c, f"/scripts/python3/{sid}/runs/{rid}")
        assert done["state"] == "succeeded", c.get(f"/jobs/{sid}/runs/{rid}/logs").json()
        outputs = c.get(f"/scripts/python3/{sid}/runs/{rid}/outputs").json()
        assert len(outputs) == 1 and outputs[0]["objectType"] == "JSONValue"
        assert outputs[0]["name"] == "metrics" and outputs[0]["value"] == {"auc": 0.9}
        assert outputs[0]["link"] == f"/json_values/{outputs[0]['objectId']}"
        assert c.get(f"/jobs/{sid}/runs/{rid}/outputs").json() == outputs
        pid = c.post("/projects", json={"name": "out", "description": ""}).json()["id"]
        r = c.post(
            f"/scripts/python3/{sid}/runs/{rid}/outputs",
            json={"objectType": "Project", "objectId": pid},
        )
        assert r.status_code == 202 and r.json()["name"] == "out"
        r = c.post(
            f"/scripts/python3/{sid}/runs/{rid}/outputs",
            json={"objectType": "JSONValue", "objectId": foreign},
        )
        assert r.status_code == 404  # outputs must be objects the caller can read
        r = c.post(
            f"/scripts/python3/{sid}/runs/{rid}/outputs",
            json={"objectType": "Spreadsheet", "objectId": 1},
        )
        assert r.status_code == 400 and "object_type must be one of" in r.json()["errorDescription"]


def test_shares_projects_archive_and_lists(live: LiveServer) -> None:
    _, owner = live.new_user("sowner")
    reader_id, reader = live.new_user("sreader")
    with live.client(owner) as c:
        sid = create(c, "pass")["id"]
        other = create(c, "pass")["id"]
        pid = c.post("/projects", json={"name": "P", "description": ""}).json()["id"]
        assert c.put(f"/scripts/python3/{sid}/projects/{pid}").status_code == 204
        assert [p["id"] for p in c.get(f"/scripts/python3/{sid}/projects").json()] == [pid]
        assert c.get(f"/jobs/{sid}/projects").json()[0]["id"] == pid  # one id space
        project = c.get(f"/projects/{pid}").json()
        assert [s["id"] for s in project["scripts"]] == [sid]
        r = c.put(
            f"/scripts/python3/{sid}/shares/users",
            json={"userIds": [reader_id], "permissionLevel": "read"},
        )
        assert r.status_code == 200 and r.json()["readers"]["users"][0]["id"] == reader_id
        r = c.put(f"/scripts/python3/{other}/archive", json={"status": True})
        assert r.status_code == 200 and r.json()["archived"] == "true"
        ids = [s["id"] for s in c.get("/scripts").json()]
        assert ids == [sid]
        assert {s["id"] for s in c.get("/scripts", params={"archived": "all"}).json()} == {
            sid,
            other,
        }
        assert c.get("/scripts", params={"type": "r"}).json() == []
        assert [s["id"] for s in c.get("/scripts", params={"status": "idle"}).json()] == [sid]
    with live.client(reader) as c:
        assert c.get(f"/scripts/python3/{sid}").json()["myPermissionLevel"] == "read"
        assert c.get(f"/scripts/python3/{other}").status_code == 404
        assert c.post(f"/scripts/python3/{sid}/runs").status_code == 403
        r = c.patch(f"/scripts/python3/{sid}", json={"name": "mine"})
        assert r.status_code == 403 and "write" in r.json()["errorDescription"]
        assert [s["id"] for s in c.get("/scripts").json()] == [sid]


def test_a_python_run_takes_about_as_long_as_the_interpreter(
    live: LiveServer, worker: Worker, admin: httpx.Client
) -> None:
    sid = create(admin, "pass")["id"]
    started = time.monotonic()
    rid = admin.post(f"/scripts/python3/{sid}/runs").json()["id"]
    done = wait_run(admin, f"/scripts/python3/{sid}/runs/{rid}")
    assert done["state"] == "succeeded"
    assert time.monotonic() - started < 5

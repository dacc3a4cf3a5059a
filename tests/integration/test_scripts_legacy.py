"""The legacy `POST /scripts`: a SQL script made from name, database, credential and SQL, with
the seed's argument order (also through the public client), that runs like any SQL script."""

from __future__ import annotations

import civis
import httpx
import pytest

from tests.conftest import LiveServer
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]


def _db(c: httpx.Client) -> int:
    return int(next(d["id"] for d in c.get("/databases").json() if d["managed"]))


def test_legacy_post_scripts_makes_a_sql_script(live: LiveServer, worker: object) -> None:
    with live.client(live.admin_key) as c:
        db = _db(c)
        r = c.post(
            "/scripts",
            json={"name": "legacy", "remote_host_id": db, "credential_id": None,
                  "sql": "SELECT {{n}} AS n", "params": [{"name": "n", "type": "integer"}],
                  "arguments": {"n": 7}},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        script = r.json()
        assert (
            script["name"] == "legacy"
            and script["type"] == c.get(f"/scripts/sql/{script['id']}").json()["type"]
        )
        assert script["sql"] == "SELECT {{n}} AS n" and script["arguments"] == {"n": 7}
        run = c.post(f"/scripts/sql/{script['id']}/runs").json()
        done = wait_run(c, f"/scripts/sql/{script['id']}/runs/{run['id']}")
        assert done["state"] == "succeeded" and done["output"][0]["fileId"]
        for body, words in [
            ({"name": "x", "remote_host_id": db, "credential_id": None}, "sql"),
            ({"name": "x", "remote_host_id": 9999, "credential_id": None, "sql": "select 1"},
             "9999"),
            ({"name": "x", "remote_host_id": db, "credential_id": None, "sql": "select 1",
              "template_script_id": 3}, "template_script_id"),
        ]:  # fmt: skip
            r = c.post("/scripts", json=body)
            assert r.status_code in (400, 422) and words in r.json()["errorDescription"], r.text


def test_public_client_scripts_post(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    client = civis.APIClient(api_key=live.admin_key)
    with live.client(live.admin_key) as c:
        db = _db(c)
    made = client.scripts.post("by client", db, None, sql="SELECT 1", hidden=True)
    assert made.name == "by client" and made.sql == "SELECT 1"
    assert client.scripts.get(made.id).id == made.id

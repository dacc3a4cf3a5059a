"""Models over HTTP with a real worker on the embedded DuckDB: types, configuration, builds
of a binary classifier and a regression with real held-out metrics, the stored estimator,
bad input (request-level 400s and failed builds that say why), cancellation, schedules,
shares, projects and archive."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]

TRAIN_SQL = """
CREATE TABLE public.{name} AS
SELECT i AS id,
  ((i * 7919) % 1000) / 1000.0 AS x1,
  ((i * 104729) % 997) / 997.0 AS x2,
  CASE i % 3 WHEN 0 THEN 'red' WHEN 1 THEN 'green' ELSE 'blue' END AS color,
  CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 31) % 50 END AS x3,
  CASE WHEN ((i * 7919) % 1000) / 1000.0 + CASE i % 3 WHEN 0 THEN 0.3 ELSE 0 END
            + ((i * 13) % 10) / 20.0 > 0.8 THEN 1 ELSE 0 END AS won,
  ((i * 7919) % 1000) / 100.0 * 3 + (i % 3) + ((i * 13) % 10) / 5.0 AS amount,
  7 AS constant
FROM range({rows}) t(i)
"""


def database_id(c: httpx.Client) -> int:
    dbs = c.get("/databases").json()
    return int(next(d["id"] for d in dbs if d["managed"]))


def run_sql(c: httpx.Client, sql: str) -> None:
    r = c.post("/scripts/sql", json={"name": "setup", "sql": sql, "remote_host_id": database_id(c)})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = c.post(f"/scripts/sql/{sid}/runs")
    assert r.status_code == 202, r.text
    run = wait_run(c, f"/scripts/sql/{sid}/runs/{r.json()['id']}")
    assert run["state"] == "succeeded", run


def query(c: httpx.Client, sql: str) -> tuple[list[str], list[list[str | None]]]:
    r = c.post("/queries", json={"database": database_id(c), "sql": sql, "preview_rows": 100})
    assert r.status_code == 200, r.text
    qid = r.json()["id"]
    deadline = time.monotonic() + 30
    while True:
        q = c.get(f"/queries/{qid}").json()
        if q["state"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, q
        time.sleep(0.05)
    assert q["state"] == "succeeded", q
    assert q["resultColumns"], q
    return q["resultColumns"], q["resultRows"]


def make_table(c: httpx.Client, name: str, rows: int = 400) -> str:
    run_sql(c, TRAIN_SQL.format(name=name, rows=rows))
    return f"public.{name}"


def new_model(c: httpx.Client, table: str, **fields: Any) -> dict[str, Any]:
    body = {
        "model_name": "m",
        "table_name": table,
        "database_id": database_id(c),
        "primary_key": "id",
        "number_of_folds": 4,
        **fields,
    }
    r = c.post("/models", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def build(c: httpx.Client, model_id: int, timeout: float = 120) -> dict[str, Any]:
    r = c.post(f"/models/{model_id}/builds")
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "queued"
    return wait_run(c, f"/models/{model_id}/builds/{r.json()['id']}", timeout=timeout)


def test_types_are_real_scikit_learn_models(live: LiveServer) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        types = c.get("/models/types").json()
    algorithms = {t["algorithm"] for t in types}
    assert {"Random Forest", "Gradient Boosting", "Extra Trees"} <= algorithms
    assert any("Logistic" in a for a in algorithms) and any("Linear" in a for a in algorithms)
    assert {t["dvType"] for t in types} >= {"binary", "multinomial", "continuous"}
    assert all(isinstance(t["fintAllowed"], bool) for t in types)
    assert len({t["id"] for t in types}) == len(types)


def test_binary_classifier_build_metrics_and_estimator(live: LiveServer, worker: Any) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        table = make_table(c, "deals")
        m = new_model(
            c,
            table,
            dependent_variable="won",
            model_type_id=5,  # random forest, binary
            excluded_columns=["amount", "constant"],
            cross_validation_parameters={"max_depth": [2, 4], "n_estimators": [20]},
        )
        assert m["currentBuildState"] == "idle" and m["builds"] == []
        assert m["crossValidationParameters"] == {"max_depth": [2, 4], "n_estimators": [20]}
        done = build(c, m["id"])
        assert done["state"] == "succeeded", done["error"]
        assert 0.8 < done["rocAuc"] <= 1.0
        assert done["rootMeanSquaredError"] is None
        output = json.loads(done["output"])
        metrics = output["metrics"]
        assert metrics["classes"] == ["0", "1"]
        matrix = metrics["confusion_matrix"]
        assert sum(map(sum, matrix)) == 400 and len(matrix) == 2
        assert metrics["accuracy"] > 0.7
        assert output["best_parameters"]["max_depth"] in (2, 4)
        assert len(output["grid_search"]) == 2
        assert set(output["features"]) == {"x1", "x2", "color", "x3"}
        assert output["categorical_features"] == ["color"]
        detail = c.get(f"/models/{m['id']}").json()
        assert detail["activeBuildId"] == done["id"]
        assert detail["currentBuildState"] == "succeeded"
        assert [b["id"] for b in detail["builds"]] == [done["id"]]
        assert detail["builds"][0]["rocAuc"] == done["rocAuc"]
        # The build is a run of the model job: /jobs shows it, and its output is the estimator.
        job = c.get(f"/jobs/{m['id']}").json()
        assert job["type"] == "JobTypes::BuildModel" and job["state"] == "succeeded"
        outputs = c.get(f"/jobs/{m['id']}/runs/{done['id']}/outputs").json()
        assert [o["objectType"] for o in outputs] == ["File"]
        f = c.get(f"/files/{outputs[0]['objectId']}").json()
        assert f["name"].endswith(".joblib") and f["fileSize"] > 1000
        assert f["expiresAt"] is None
        logs = c.get(f"/jobs/{m['id']}/runs/{done['id']}/logs").json()
        assert any("Held-out metrics" in entry["message"] for entry in logs)
        builds = c.get(f"/models/{m['id']}/builds").json()
        assert [b["id"] for b in builds] == [done["id"]]


def test_regression_build_with_box_cox_and_limiting_sql(live: LiveServer, worker: Any) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        table = make_table(c, "sales")
        m = new_model(
            c,
            table,
            dependent_variable="amount",
            model_type_id=3,  # elastic net
            excluded_columns=["won", "constant"],
            limiting_sql="id > 0 AND id <= 300",
            box_cox_transformation=True,
        )
        done = build(c, m["id"])
        assert done["state"] == "succeeded", done["error"]
        assert done["rocAuc"] is None
        assert done["rSquaredError"] > 0.9
        assert 0 < done["rootMeanSquaredError"] < 3
        assert json.loads(done["output"])["rows"] == 300
        listed = c.get("/models", params={"dependent_variable": "amou"}).json()
        assert [x["id"] for x in listed] == [m["id"]]
        assert listed[0]["builds"][0]["rSquaredError"] == done["rSquaredError"]


def test_list_filters_on_table_and_dependent_variable_page_in_the_database(
    live: LiveServer, worker: Any
) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        alpha, beta = make_table(c, "t_alpha", rows=20), make_table(c, "t_beta", rows=20)
        m1 = new_model(c, alpha, dependent_variable="amount", model_type_id=3)["id"]
        m2 = new_model(c, beta, dependent_variable="won", model_type_id=1)["id"]
        m3 = new_model(c, alpha, dependent_variable="won", model_type_id=1)["id"]

        def ids(**params: Any) -> list[int]:
            r = c.get("/models", params={"order_dir": "asc", "order": "created_at", **params})
            assert r.status_code == 200, r.text
            return [int(x["id"]) for x in r.json()]

        assert ids(training_table_name="ALPHA") == [m1, m3]  # a substring, any case
        assert ids(training_table_name="alpha", dependent_variable="WON") == [m3]
        assert ids(dependent_variable="won") == [m2, m3]
        assert ids(training_table_name="%") == []  # a literal, not a LIKE pattern
        assert ids(status="idle") == [m1, m2, m3]
        page = c.get("/models", params={"training_table_name": "alpha", "limit": 1})
        assert page.headers["x-pagination-total-entries"] == "2" and len(page.json()) == 1
        r = c.get("/models", params={"author": "me"})
        assert r.status_code == 400 and "author" in r.json()["errorDescription"]


def test_request_level_bad_input_is_a_clear_400(live: LiveServer, worker: Any) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        table = make_table(c, "bad_req", rows=50)
        db = database_id(c)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"model_type_id": 999}, "model_type_id 999"),
            ({"model_type_id": 5, "cross_validation_parameters": {"learning_rate": [0.1]}},
             "learning_rate"),
            ({"number_of_folds": 1}, "number_of_folds"),
            ({"model_type_id": 5, "interaction_terms": True}, "interaction_terms"),
            ({"model_type_id": 1, "box_cox_transformation": True}, "continuous"),
            ({"table_name": table, "database_id": db, "dependent_variable": "nope"}, "'nope'"),
            ({"table_name": table, "database_id": db, "excluded_columns": ["zz"]}, "'zz'"),
            ({"table_name": "public.missing_table", "database_id": db}, "does not exist"),
            ({"database_id": 987654}, "database_id 987654"),
        ]  # fmt: skip
        for body, needle in cases:
            r = c.post("/models", json=body)
            assert r.status_code == 400, (body, r.text)
            assert needle in r.json()["errorDescription"], (body, r.text)
        m = new_model(c, table)
        r = c.post(f"/models/{m['id']}/builds")
        assert r.status_code == 400
        assert "dependent_variable" in r.json()["errorDescription"]
        assert "model_type_id" in r.json()["errorDescription"]
        r = c.patch(f"/models/{m['id']}", json={"active_build_id": 12345})
        assert r.status_code == 400 and "active_build_id" in r.json()["errorDescription"]


@pytest.mark.sqlite_only("data checks happen in the fit, not the store")
def test_bad_data_fails_the_build_saying_why(live: LiveServer, worker: Any) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        table = make_table(c, "bad_data", rows=60)
        cases = [
            ({"dependent_variable": "constant", "model_type_id": 5}, "constant"),
            ({"dependent_variable": "color", "model_type_id": 5}, "binary"),
            ({"dependent_variable": "color", "model_type_id": 3}, "not a number column"),
            ({"dependent_variable": "won", "model_type_id": 5, "limiting_sql": "id < 5"},
             "fewer than number_of_folds"),
            ({"dependent_variable": "won", "model_type_id": 5, "limiting_sql": "id < 0"},
             "has no rows"),
            ({"dependent_variable": "amount", "model_type_id": 3, "box_cox_transformation": True,
              "limiting_sql": "id > 0", "excluded_columns": ["won"]}, None),
            ({"dependent_variable": "won", "model_type_id": 1, "interaction_terms": True,
              "excluded_columns": ["amount", "constant"]}, None),
        ]  # fmt: skip
        for fields, needle in cases:
            m = new_model(c, table, **fields)
            done = build(c, m["id"])
            if needle is None:
                assert done["state"] == "succeeded", done["error"]
                continue
            assert done["state"] == "failed", (fields, done)
            assert needle in (done["error"] or ""), (fields, done)
            detail = c.get(f"/models/{m['id']}").json()
            assert detail["currentBuildState"] == "failed"
            assert needle in detail["currentBuildException"]
        # The table changed after the model was saved: starting a build names the lost column.
        m = new_model(c, table, dependent_variable="won", model_type_id=5)
        run_sql(c, "ALTER TABLE public.bad_data DROP COLUMN won")
        r = c.post(f"/models/{m['id']}/builds")
        assert r.status_code == 400 and "'won'" in r.json()["errorDescription"], r.text


def test_cancel_a_build(live: LiveServer, worker: Any) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        table = make_table(c, "big", rows=20000)
        m = new_model(
            c,
            table,
            dependent_variable="won",
            model_type_id=8,  # gradient boosting, slow enough to cancel
            excluded_columns=["amount", "constant"],
            cross_validation_parameters={"n_estimators": [300, 400, 500], "max_depth": [5, 6]},
        )
        r = c.post(f"/models/{m['id']}/builds")
        bid = r.json()["id"]
        wait_run(c, f"/models/{m['id']}/builds/{bid}", states=("running",))
        r = c.delete(f"/models/{m['id']}/builds/{bid}")
        assert r.status_code == 202, r.text
        done = wait_run(c, f"/models/{m['id']}/builds/{bid}")
        assert done["state"] == "cancelled"
        detail = c.get(f"/models/{m['id']}").json()
        assert detail["activeBuildId"] is None and detail["builds"] == []


def test_patch_schedule_shares_projects_archive(live: LiveServer) -> None:
    owner_id, key = live.new_user()
    other_id, other_key = live.new_user()
    with live.client(key) as c, live.client(other_key) as o:
        r = c.post("/models", json={"modelName": "m", "modelTypeId": 1})
        assert r.status_code == 201, r.text
        m = r.json()
        r = c.patch(f"/models/{m['id']}", json={"modelName": "renamed", "numberOfFolds": 3})
        assert r.status_code == 204, r.text
        got = c.get(f"/models/{m['id']}").json()
        assert got["modelName"] == "renamed" and got["numberOfFolds"] == 3
        assert got["user"]["id"] == owner_id and got["myPermissionLevel"] == "manage"
        assert c.get(f"/models/{m['id']}/schedules").json()["schedule"]["scheduled"] is False
        sched = {"scheduled": True, "scheduledDays": [1], "scheduledHours": [3]}
        r = c.put(f"/models/{m['id']}/schedules", json={"schedule": sched})
        assert r.status_code == 200, r.text
        assert r.json()["schedule"]["scheduledHours"] == [3]
        assert c.get(f"/models/{m['id']}").json()["schedule"]["scheduled"] is True
        assert [x["id"] for x in c.get("/models", params={"status": "scheduled"}).json()] == [
            m["id"]
        ]
        # Not shared: invisible to the other user.
        assert o.get(f"/models/{m['id']}").status_code == 404
        assert o.get("/models").json() == []
        r = c.put(
            f"/models/{m['id']}/shares/users",
            json={"user_ids": [other_id], "permission_level": "read"},
        )
        assert r.status_code == 200, r.text
        assert o.get(f"/models/{m['id']}").json()["myPermissionLevel"] == "read"
        r = o.patch(f"/models/{m['id']}", json={"modelName": "x"})
        assert r.status_code == 403
        assert o.post(f"/models/{m['id']}/builds").status_code == 403
        p = c.post("/projects", json={"name": "p", "description": "d"}).json()
        assert c.put(f"/models/{m['id']}/projects/{p['id']}").status_code == 204
        assert [x["id"] for x in c.get(f"/models/{m['id']}/projects").json()] == [p["id"]]
        r = c.put(f"/models/{m['id']}/archive", json={"status": True})
        assert r.status_code == 200 and r.json()["archived"] == "true"
        assert c.get("/models").json() == []
        assert [x["id"] for x in c.get("/models", params={"archived": "true"}).json()] == [m["id"]]

"""Predictions over HTTP with a real worker on the embedded DuckDB: a built model scores a
second table into an output table that is then queried; runs, score statistics, patch,
schedules, scoring after each build, cancellation, bad input and permissions; and training and
scoring in a PostgreSQL database registered as a remote host (when CIVICA_TEST_POSTGRES_URL is
set)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_ENV, LiveServer
from tests.integration.test_models import build, make_table, new_model, query, run_sql
from tests.workers import settings, wait_run, worker

__all__ = ["settings", "worker"]


def scored_model(c: Any, table: str, **fields: Any) -> dict[str, Any]:
    m = new_model(
        c,
        table,
        dependent_variable="won",
        model_type_id=1,  # regularised logistic regression
        excluded_columns=["amount", "constant"],
        **fields,
    )
    done = build(c, m["id"])
    assert done["state"] == "succeeded", done["error"]
    return m


def test_score_a_second_table_into_an_output_table(live: LiveServer, worker: Any) -> None:
    owner_id, key = live.new_user()
    _, other_key = live.new_user()
    with live.client(key) as c, live.client(other_key) as o:
        table = make_table(c, "history")
        run_sql(
            c,
            "CREATE TABLE public.prospects AS SELECT * EXCLUDE (won, amount) FROM "
            "public.history WHERE id % 4 = 0",
        )
        m = scored_model(c, table)
        r = c.put(
            f"/models/{m['id']}/predictions",
            json={
                "table_name": "public.prospects",
                "primary_key": ["id"],
                "output_table": "public.prospect_scores",
            },
        )
        assert r.status_code == 200, r.text
        p = r.json()
        assert p["state"] == "idle" and p["outputTable"] == "public.prospect_scores"
        pid = p["id"]
        assert [x["id"] for x in c.get(f"/models/{m['id']}").json()["predictions"]] == [pid]
        assert [x["id"] for x in c.get("/predictions", params={"model_id": m["id"]}).json()] == [
            pid
        ]
        detail = c.get(f"/predictions/{pid}").json()
        assert detail["modelId"] == m["id"] and detail["primaryKey"] == ["id"]
        assert detail["scoredTableName"] == "public.prospects"
        assert detail["outputTableName"] == "public.prospect_scores"

        r = c.post(f"/predictions/{pid}/runs")
        assert r.status_code == 201, r.text
        run = wait_run(c, f"/predictions/{pid}/runs/{r.json()['id']}", timeout=120)
        assert run["state"] == "succeeded", run["exception"]
        assert run["name"] == "public.prospect_scores"
        (stats,) = run["scoreStats"]
        assert stats["scoreName"] == "score" and sum(stats["histogram"]) == 100
        assert 0 <= stats["minScore"] < stats["avgScore"] < stats["maxScore"] <= 1

        _, rows = query(
            c,
            "SELECT count(*), count(DISTINCT id), min(score), max(score), "
            "sum(CASE WHEN id % 4 = 0 THEN 1 ELSE 0 END) FROM public.prospect_scores",
        )
        count, distinct, low, high, keyed = rows[0]
        assert (count, distinct, keyed) == ("100", "100", "100")
        assert float(str(low)) >= 0 and float(str(high)) <= 1
        assert abs(float(str(low)) - stats["minScore"]) < 1e-9
        _columns, rows = query(
            c,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'prospect_scores' ORDER BY ordinal_position",
        )
        assert rows == [["id", "BIGINT"], ["score", "DOUBLE"]]
        detail = c.get(f"/predictions/{pid}").json()
        assert detail["state"] == "succeeded"
        assert [(t["schema"], t["name"]) for t in detail["scoredTables"]] == [
            ("public", "prospect_scores")
        ]
        # The prediction is a job: /jobs shows it and its runs.
        job = c.get(f"/jobs/{pid}").json()
        assert job["type"] == "JobTypes::ScoreModel" and job["state"] == "succeeded"

        # Patch: a narrower scope into another table.
        r = c.patch(
            f"/predictions/{pid}",
            json={"output_table_name": "public.few_scores", "limiting_sql": "id < 40"},
        )
        assert r.status_code == 200 and r.json()["outputTableName"] == "public.few_scores"
        r = c.post(f"/predictions/{pid}/runs")
        run = wait_run(c, f"/predictions/{pid}/runs/{r.json()['id']}", timeout=120)
        assert run["state"] == "succeeded", run["exception"]
        assert query(c, "SELECT count(*) FROM public.few_scores")[1] == [["10"]]
        runs = c.get(f"/predictions/{pid}/runs").json()
        assert len(runs) == 2 and all(x["predictionId"] == pid for x in runs)

        # Not shared: the other user sees nothing.
        assert o.get(f"/predictions/{pid}").status_code == 404
        assert o.get("/predictions").json() == []
        assert o.post(f"/predictions/{pid}/runs").status_code == 404
        assert owner_id


def test_schedule_and_score_on_model_build(live: LiveServer, worker: Any) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        table = make_table(c, "hist2", rows=200)
        m = scored_model(c, table)
        schedule = {"scheduled": True, "scheduledDays": [1, 3], "scheduledHours": [6]}
        r = c.put(
            f"/models/{m['id']}/predictions",
            json={"table_name": table, "primary_key": ["id"], "schedule": schedule},
        )
        assert r.status_code == 200, r.text
        pid = r.json()["id"]
        assert r.json()["outputTable"] == f"public.hist2_scores_model_{m['id']}"
        assert r.json()["schedule"]["scheduledDays"] == [1, 3]
        got = c.get(f"/predictions/{pid}/schedules").json()
        assert got == {
            "id": pid,
            "schedule": {**got["schedule"], **schedule},
            "scoreOnModelBuild": False,
        }
        r = c.put(f"/predictions/{pid}/schedules", json={"scoreOnModelBuild": True})
        assert r.status_code == 200 and r.json()["scoreOnModelBuild"] is True
        assert r.json()["schedule"]["scheduledHours"] == [6]
        # Putting the same table again updates that prediction instead of adding one.
        r = c.put(
            f"/models/{m['id']}/predictions",
            json={"table_name": table, "primary_key": ["id"], "limiting_sql": "id < 50"},
        )
        assert r.json()["id"] == pid and r.json()["limitingSql"] == "id < 50"
        # A new build scores the prediction by itself.
        done = build(c, m["id"])
        assert done["state"] == "succeeded"
        runs = c.get(f"/predictions/{pid}/runs").json()
        assert len(runs) == 1
        run = wait_run(c, f"/predictions/{pid}/runs/{runs[0]['id']}", timeout=120)
        assert run["state"] == "succeeded", run["exception"]
        out = f"public.hist2_scores_model_{m['id']}"
        assert query(c, f"SELECT count(*) FROM {out}")[1] == [["50"]]


@pytest.mark.sqlite_only("scoring happens in the fit subprocess and the warehouse, not the store")
def test_multinomial_and_regression_scores(live: LiveServer, worker: Any) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        table = make_table(c, "hist3", rows=300)
        m = new_model(c, table, dependent_variable="color", model_type_id=11,
                      excluded_columns=["constant"])  # fmt: skip
        assert build(c, m["id"])["state"] == "succeeded"
        r = c.put(
            f"/models/{m['id']}/predictions",
            json={"table_name": table, "primary_key": ["id"], "output_table": "public.colors"},
        )
        pid = r.json()["id"]
        run = wait_run(
            c,
            f"/predictions/{pid}/runs/{c.post(f'/predictions/{pid}/runs').json()['id']}",
            timeout=120,
        )
        assert run["state"] == "succeeded", run["exception"]
        assert [s["scoreName"] for s in run["scoreStats"]] == [
            "score_blue",
            "score_green",
            "score_red",
        ]
        _, rows = query(
            c, "SELECT round(min(score_blue + score_green + score_red), 6) FROM public.colors"
        )
        assert rows == [["1.0"]]
        m = new_model(c, table, dependent_variable="amount", model_type_id=7,
                      excluded_columns=["won"])  # fmt: skip
        assert build(c, m["id"])["state"] == "succeeded"
        r = c.put(
            f"/models/{m['id']}/predictions",
            json={"table_name": table, "primary_key": ["id"], "output_table": "public.amounts"},
        )
        pid = r.json()["id"]
        run = wait_run(
            c,
            f"/predictions/{pid}/runs/{c.post(f'/predictions/{pid}/runs').json()['id']}",
            timeout=120,
        )
        assert run["state"] == "succeeded", run["exception"]
        _, rows = query(c, "SELECT avg(abs(s.score - h.amount)) FROM public.amounts s "
                           "JOIN public.hist3 h USING (id)")  # fmt: skip
        assert float(str(rows[0][0])) < 3


def test_bad_prediction_input(live: LiveServer, worker: Any) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        table = make_table(c, "hist4", rows=80)
        m = new_model(c, table, dependent_variable="won", model_type_id=5)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"table_name": table, "primary_key": ["nope"]}, "'nope'"),
            ({"table_name": table, "primary_key": []}, "primary_key"),
            ({"table_name": table, "primary_key": ["id"], "output_table": table}, "differ"),
            ({"table_name": "a.b.c", "primary_key": ["id"]}, "schema.table"),
        ]
        for body, needle in cases:
            r = c.put(f"/models/{m['id']}/predictions", json=body)
            assert r.status_code == 400, (body, r.text)
            assert needle in r.json()["errorDescription"], (body, r.text)
        r = c.put(
            f"/models/{m['id']}/predictions", json={"table_name": table, "primary_key": ["id"]}
        )
        pid = r.json()["id"]
        # No build yet: nothing to score with.
        r = c.post(f"/predictions/{pid}/runs")
        assert r.status_code == 400 and "build it first" in r.json()["errorDescription"]
        assert c.get(f"/predictions/{pid}/runs/999999").status_code == 404
        assert c.get("/predictions/999999").status_code == 404
        # A scored table that lost a column the model needs: the run fails saying which.
        assert build(c, m["id"])["state"] == "succeeded"
        run_sql(c, "CREATE TABLE public.thin AS SELECT id, x1 FROM public.hist4")
        r = c.put(
            f"/models/{m['id']}/predictions",
            json={"table_name": "public.thin", "primary_key": ["id"]},
        )
        pid = r.json()["id"]
        run = wait_run(
            c,
            f"/predictions/{pid}/runs/{c.post(f'/predictions/{pid}/runs').json()['id']}",
            timeout=120,
        )
        assert run["state"] == "failed"
        assert "x2" in run["exception"] and "model needs" in run["exception"]


def test_cancel_a_queued_prediction_run(live: LiveServer, worker: Any) -> None:
    _, key = live.new_user()
    with live.client(key) as c:
        table = make_table(c, "hist5", rows=60)
        m = scored_model(c, table)
        r = c.put(
            f"/models/{m['id']}/predictions", json={"table_name": table, "primary_key": ["id"]}
        )
        pid = r.json()["id"]
        worker.stop(timeout=10)  # nothing claims the run now: it stays queued
        run = c.post(f"/predictions/{pid}/runs").json()
        assert run["state"] == "queued"
        r = c.delete(f"/predictions/{pid}/runs/{run['id']}")
        assert r.status_code == 202, r.text
        got = c.get(f"/predictions/{pid}/runs/{run['id']}").json()
        assert got["state"] == "cancelled"
        assert c.get(f"/predictions/{pid}").json()["state"] == "cancelled"
        assert c.get(f"/jobs/{pid}/runs/{run['id']}").json()["state"] == "cancelled"


@pytest.fixture(scope="module")
def pg_warehouse() -> Iterator[str]:
    """A fresh PostgreSQL database to train and score in (its URL)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL warehouse variant skipped: set {PG_ENV} to run it")
    name = f"civica_models_{uuid.uuid4().hex[:10]}"
    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name, drivername="postgresql").render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


PG_TRAIN = """
CREATE TABLE public.{name} AS
SELECT i AS id,
  ((i * 7919) % 1000) / 1000.0 AS x1,
  ((i * 104729) % 997) / 997.0 AS x2,
  CASE i % 3 WHEN 0 THEN 'red' WHEN 1 THEN 'green' ELSE 'blue' END AS color,
  (i % 2 = 0) AS flag,
  CASE WHEN ((i * 7919) % 1000) / 1000.0 + CASE i % 3 WHEN 0 THEN 0.3 ELSE 0 END
            + ((i * 13) % 10) / 20.0 > 0.8 THEN 1 ELSE 0 END AS won
FROM generate_series(0, 399) AS i
"""


def test_train_and_score_in_postgresql(
    live: LiveServer, worker: Any, pg_warehouse: str, admin: httpx.Client
) -> None:
    suffix = uuid.uuid4().hex[:8]
    r = admin.post(
        "/remote_hosts",
        json={"name": f"pg_{suffix}", "url": pg_warehouse, "type": "RemoteHostTypes::Postgres"},
    )
    assert r.status_code == 200, r.text
    db = r.json()["id"]
    train, scores = f"train_{suffix}", f"scores_{suffix}"
    r = admin.post(
        "/scripts/sql",
        json={"name": "setup", "sql": PG_TRAIN.format(name=train), "remote_host_id": db},
    )
    sid = r.json()["id"]
    run = wait_run(
        admin, f"/scripts/sql/{sid}/runs/{admin.post(f'/scripts/sql/{sid}/runs').json()['id']}"
    )
    assert run["state"] == "succeeded", run
    r = admin.post(
        "/models",
        json={
            "model_name": "pg",
            "database_id": db,
            "table_name": f"public.{train}",
            "dependent_variable": "won",
            "primary_key": "id",
            "model_type_id": 10,  # extra trees, binary
            "number_of_folds": 3,
        },
    )
    assert r.status_code == 201, r.text
    m = r.json()
    done = build(admin, m["id"])
    assert done["state"] == "succeeded", done["error"]
    assert done["rocAuc"] > 0.8
    assert set(json.loads(done["output"])["numeric_features"]) == {"x1", "x2", "flag"}
    r = admin.put(
        f"/models/{m['id']}/predictions",
        json={"table_name": f"public.{train}", "primary_key": ["id"],
              "output_table": f"public.{scores}"},
    )  # fmt: skip
    pid = r.json()["id"]
    run = wait_run(
        admin,
        f"/predictions/{pid}/runs/{admin.post(f'/predictions/{pid}/runs').json()['id']}",
        timeout=120,
    )
    assert run["state"] == "succeeded", run["exception"]
    engine = create_engine(make_url(pg_warehouse).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            count, low, high = conn.execute(
                text(f"SELECT count(*), min(score), max(score) FROM public.{scores}")
            ).one()
            types = conn.execute(
                text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    f"WHERE table_name = '{scores}' ORDER BY ordinal_position"
                )
            ).all()
    finally:
        engine.dispose()
    assert count == 400 and 0 <= low <= high <= 1
    assert [tuple(t) for t in types] == [("id", "integer"), ("score", "double precision")]

"""The public `civis` client's `models` and `predictions` endpoints against civica: list the
types, configure a model, build it, read its metrics, score a table and read the scores."""

from __future__ import annotations

import time

import civis
import pytest

from civica.execution.worker import Worker
from tests.conftest import LiveServer
from tests.integration.test_models import TRAIN_SQL
from tests.workers import settings, worker

__all__ = ["settings", "worker"]


@pytest.fixture
def client(live: LiveServer, worker: Worker, monkeypatch: pytest.MonkeyPatch) -> civis.APIClient:
    """A client with a fresh user's key (civis caches the spec per key)."""
    monkeypatch.setenv("CIVIS_API_ENDPOINT", live.url + "/")
    _, key = live.new_user()
    return civis.APIClient(api_key=key)


def wait(fetch: object, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()  # type: ignore[operator]
        if got["state"] in ("succeeded", "failed", "cancelled"):
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.1)


def test_train_read_metrics_and_score(client: civis.APIClient) -> None:
    db = client.get_database_id("civica")
    sql = TRAIN_SQL.format(name="compat_train", rows=300)
    civis.io.query_civis(sql, "civica", client=client, polling_interval=0.1).result()
    types = client.models.list_types()
    forest = next(
        t for t in types if t["algorithm"] == "Random Forest" and t["dv_type"] == "binary"
    )
    model = client.models.post(
        model_name="won",
        table_name="public.compat_train",
        database_id=db,
        dependent_variable="won",
        primary_key="id",
        excluded_columns=["amount", "constant"],
        model_type_id=forest["id"],
        number_of_folds=3,
    )
    assert model.current_build_state == "idle"
    started = client.models.post_builds(model.id)
    done = wait(lambda: client.models.get_builds(model.id, started.id))
    assert done["state"] == "succeeded", done["error"]  # type: ignore[index]
    assert 0.5 < done["roc_auc"] <= 1  # type: ignore[index]
    detail = client.models.get(model.id)
    assert detail.active_build_id == started.id
    assert [b.id for b in client.models.list_builds(model.id)] == [started.id]
    added = client.models.put_predictions(
        model.id, "public.compat_train", ["id"], output_table="public.compat_scores"
    )
    run = client.predictions.post_runs(added.id)
    finished = wait(lambda: client.predictions.get_runs(added.id, run.id))
    assert finished["state"] == "succeeded", finished["exception"]  # type: ignore[index]
    assert finished["score_stats"][0]["score_name"] == "score"  # type: ignore[index]
    scores = civis.io.read_civis_sql(
        "SELECT count(*) AS n FROM public.compat_scores",
        "civica",
        client=client,
        return_as="pandas",
        polling_interval=0.1,
    )
    assert int(scores["n"][0]) == 300
    schedule = client.predictions.put_schedules(
        added.id, schedule={"scheduled": True, "scheduled_days": [2], "scheduled_hours": [5]}
    )
    assert schedule.schedule.scheduled is True
    assert client.predictions.list(model_id=model.id)[0].id == added.id

"""Model build benchmark against a real `civica serve` (SQLite store, in-process worker,
embedded DuckDB): a binary random forest on a table of CIVICA_BENCH_MODEL_ROWS rows (20,000
by default) with 5 folds, built through `POST /models/{id}/builds` until the build succeeds,
against the same scikit-learn pipeline fitted directly (held-out predictions over the same
seeded folds, then a fit on every row) on the same rows, made by the same statement in an
in-memory DuckDB (the server holds the warehouse file). Builds and direct fits alternate and
the fastest of each is compared, so a busy machine weighs on both.

Targets: build time at most 1.2 x the direct fit; ROC AUC and accuracy equal.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from typing import Any

import httpx

from benchmarks.__main__ import KEY, free_port, process, wait_up

TABLE_SQL = """
CREATE TABLE public.bench_train AS
SELECT i AS id,
  hash(i) % 1000 / 1000.0 AS x1,
  hash(i + 7) % 997 / 997.0 AS x2,
  CASE hash(i + 3) % 4 WHEN 0 THEN 'red' WHEN 1 THEN 'green' WHEN 2 THEN 'blue' ELSE NULL END
    AS color,
  CASE WHEN i % 11 = 0 THEN NULL ELSE hash(i + 11) % 50 END AS x3,
  CASE WHEN hash(i) % 1000 / 1000.0 + CASE hash(i + 3) % 4 WHEN 0 THEN 0.3 ELSE 0 END
            + hash(i + 5) % 10 / 20.0 > 0.8 THEN 1 ELSE 0 END AS won
FROM range({rows}) t(i)
"""
MODEL_TYPE = 5  # Random Forest, binary
FOLDS = 5
ROUNDS = 2


def _rows() -> int:
    return int(os.environ.get("CIVICA_BENCH_MODEL_ROWS", "20000"))


def _wait(c: httpx.Client, path: str) -> dict[str, Any]:
    while True:
        got: dict[str, Any] = c.get(path).json()
        if got["state"] in ("succeeded", "failed", "cancelled"):
            if got["state"] != "succeeded":
                raise RuntimeError(f"{path} {got['state']}: {got.get('error')}")
            return got
        time.sleep(0.02)


def _build(c: httpx.Client, model_id: int) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    build = c.post(f"/models/{model_id}/builds").json()
    done = _wait(c, f"/models/{model_id}/builds/{build['id']}")
    return time.perf_counter() - t0, json.loads(done["output"])["metrics"]


def _direct(rows: int) -> tuple[float, dict[str, float]]:
    """The same pipeline fitted with scikit-learn directly, on the same rows made by the same
    statement in an in-memory DuckDB (the server holds the warehouse file)."""
    import duckdb
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from civica.modeling.train import Spec, make_pipeline

    conn = duckdb.connect()
    try:
        conn.execute("CREATE SCHEMA public")
        conn.execute(TABLE_SQL.format(rows=rows))
        frame = conn.execute("SELECT * FROM public.bench_train").df()
    finally:
        conn.close()
    y = frame["won"].to_numpy()
    x = frame[["x1", "x2", "color", "x3"]].astype({"x1": float, "x2": float, "x3": float})
    x["color"] = x["color"].astype(object).where(x["color"].notna(), np.nan)
    spec = Spec(model_type_id=MODEL_TYPE, dependent_variable="won", number_of_folds=FOLDS)
    pipeline = make_pipeline(spec, ["x1", "x2", "x3"], ["color"])
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    t0 = time.perf_counter()
    proba = cross_val_predict(clone(pipeline), x, y, cv=folds, method="predict_proba")
    pipeline.fit(x, y)
    elapsed = time.perf_counter() - t0
    return elapsed, {
        "roc_auc": float(roc_auc_score(y, proba[:, 1])),
        "accuracy": float(accuracy_score(y, proba.argmax(axis=1))),
    }


def models_benchmark() -> bool:
    """Builds and direct fits alternate (ROUNDS each) so a busy machine weighs on both; the
    fastest of each is compared."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the build's fitting process has
    rows = _rows()
    served: list[float] = []
    direct: list[float] = []
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        cmd = [
            sys.executable, "-m", "civica.cli", "serve", "--data-dir", data, "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        env = {"CIVICA_ADMIN_API_KEY": KEY, "CIVICA_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        with process(cmd, env=env):
            base = f"http://127.0.0.1:{port}"
            wait_up(f"{base}/users/me", auth=(KEY, ""))
            with httpx.Client(base_url=base, auth=(KEY, ""), timeout=600) as c:
                db = next(d["id"] for d in c.get("/databases").json() if d["managed"])
                sql = TABLE_SQL.format(rows=rows)
                r = c.post("/queries", json={"database": db, "sql": sql, "preview_rows": 0})
                r.raise_for_status()
                _wait(c, f"/queries/{r.json()['id']}")
                model = c.post(
                    "/models",
                    json={
                        "model_name": "bench",
                        "table_name": "public.bench_train",
                        "database_id": db,
                        "dependent_variable": "won",
                        "primary_key": "id",
                        "model_type_id": MODEL_TYPE,
                        "number_of_folds": FOLDS,
                    },
                ).json()
                for _ in range(ROUNDS):
                    took, expected = _direct(rows)
                    direct.append(took)
                    took, metrics = _build(c, model["id"])
                    served.append(took)
    ratio = min(served) / min(direct)
    same = all(abs(float(metrics[k]) - expected[k]) < 1e-9 for k in expected)
    print(f"\nModel build, Random Forest (binary), {rows:,} rows, {FOLDS} folds, best of {ROUNDS}")
    print(
        f"build via POST /models/{{id}}/builds {min(served):>7.2f} s   scikit-learn directly "
        f"{min(direct):>7.2f} s   ratio {ratio:.2f} x (target <= 1.2)"
        + ("" if ratio <= 1.2 else "   (target missed)")
    )
    print(
        f"ROC AUC {metrics['roc_auc']:.6f} vs {expected['roc_auc']:.6f}, accuracy "
        f"{metrics['accuracy']:.6f} vs {expected['accuracy']:.6f}: "
        + ("equal" if same else "DIFFERENT (target missed)")
    )
    return ratio <= 1.2 and same


if __name__ == "__main__":
    models_benchmark()

"""Build and prediction runs, in the worker.

The worker reads the table through the warehouse layer (the engine's bulk CSV export, on the
job owner's login), a subprocess (`python -m civica.modeling`) fits or scores, and the worker
stores the estimator as a file or loads the scores into the output table (the engine's bulk
load). The database work stays in the worker because the embedded DuckDB file can only be
opened by the server's process; the fitting goes to a subprocess so it never holds the API's
interpreter and a cancelled run is stopped by killing it (the runner's process supervision:
logs, memory limit, time limit, cancellation)."""

from __future__ import annotations

import json
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import URL

from civica.db.models import (
    FileRow,
    JobRow,
    ModelRunResultRow,
    PredictionRow,
    RunLogRow,
    RunOutputRow,
    UserRow,
)
from civica.services import users
from civica.services.errors import BadRequest, ServiceError
from civica.warehouse import CsvFormat, Interrupted, Warehouse, WarehouseError, open_warehouse
from civica.warehouse.base import TableColumn, type_for
from civica.warehouse.sqltext import quote_ident

if TYPE_CHECKING:
    from civica.execution.runner import Runner

PLAIN_CSV = CsvFormat(header=True, delimiter=",", quoted=True, compression="none")


@dataclass
class Source:
    """Where a run reads its rows, and as whom."""

    url: URL
    username: str | None
    password: str | None
    database_name: str
    database_id: int
    schema: str
    table: str
    limiting_sql: str | None

    def select(self) -> str:
        sql = f"SELECT * FROM {quote_ident(self.schema)}.{quote_ident(self.table)}"
        where = re.sub(r"(?i)^\s*where\s+", "", self.limiting_sql or "").strip()
        if where:
            sql += f" WHERE {where}"
        return sql


@dataclass
class Plan:
    job_id: int
    owner_id: int
    source: Source
    spec: dict[str, Any]
    memory_mb: int
    # Predictions: the model's estimator file and build output, and where the scores go.
    model_id: int = 0
    build_id: int = 0
    estimator_key: str = ""
    build_output: dict[str, Any] = field(default_factory=dict)
    output_schema: str = ""
    output_table: str = ""


def _source(
    session: Any,
    runner: Runner,
    actor: Any,
    config: dict[str, Any],
    table: str,
    limiting_sql: str | None,
) -> Source:
    from civica.services.credentials import login_for_database
    from civica.services.databases import load_database, stored_url
    from civica.services.imports import parse_table_path
    from civica.services.sql import resolve_credential

    if not config.get("database_id"):
        raise BadRequest("the model names no database: set database_id")
    database = load_database(session, int(config["database_id"]))
    username, password = login_for_database(
        session=session,
        actor=actor,
        secrets=runner.platform.secrets,
        database=database,
        credential_id=resolve_credential(session, actor, database, config.get("credential_id")),
    )
    schema, name = parse_table_path(table, "table_name")
    return Source(
        url=stored_url(runner.platform.secrets, database),
        username=username,
        password=password,
        database_name=database.name,
        database_id=database.id,
        schema=schema,
        table=name,
        limiting_sql=limiting_sql,
    )


def _memory(config: dict[str, Any]) -> int:
    """The fit's memory limit: what the run was admitted with (the default of every run)."""
    from civica.services.runs import resources_for

    return resources_for(config).memory


def build_spec(config: dict[str, Any]) -> dict[str, Any]:
    """The fitting subprocess's settings from a model's config."""
    pk = config.get("primary_key")
    return {
        "model_type_id": int(config.get("model_type_id") or 0),
        "dependent_variable": str(config.get("dependent_variable") or ""),
        "primary_key": [pk] if pk else [],
        "excluded_columns": list(config.get("excluded_columns") or []),
        "number_of_folds": int(config.get("number_of_folds") or 5),
        "cross_validation_parameters": dict(config.get("cross_validation_parameters") or {}),
        "interaction_terms": bool(config.get("interaction_terms")),
        "box_cox_transformation": bool(config.get("box_cox_transformation")),
        "dependent_variable_order": list(config.get("dependent_variable_order") or []),
        "seed": 0,
    }


def _build_plan(runner: Runner) -> Plan | None:
    with runner.platform.transaction() as session:
        claim = runner.claimed(session)
        if claim is None:
            return None
        job, actor = claim.job, claim.actor
        config = dict(job.config or {})
        if not config.get("table_name"):
            raise BadRequest("the model names no training table: set table_name")
        if not config.get("dependent_variable"):
            raise BadRequest("the model has no dependent_variable: set the column to predict")
        source = _source(
            session, runner, actor, config, str(config["table_name"]), config.get("limiting_sql")
        )
        return Plan(job.id, job.owner_id, source, build_spec(config), _memory(config))


def _prediction_plan(runner: Runner) -> Plan | None:
    from civica.services.imports import parse_table_path
    from civica.services.models import MODEL
    from civica.services.permissions import Level, load

    with runner.platform.transaction() as session:
        claim = runner.claimed(session)
        if claim is None:
            return None
        job, actor = claim.job, claim.actor
        config = dict(job.config or {})
        model = load(session, actor, MODEL, int(config.get("model_id") or 0), Level.READ)
        model_config = dict(model.config or {})
        build_id = model_config.get("active_build_id")
        result = session.get(ModelRunResultRow, int(build_id or 0))
        if result is None or result.file_id is None:
            raise BadRequest(
                f"model {model.id} has no successful build to score with: build it first "
                f"(POST /models/{model.id}/builds)"
            )
        file = session.get(FileRow, result.file_id)
        if file is None or file.state != "uploaded":
            raise BadRequest(
                f"the estimator of build {build_id} of model {model.id} is gone; build again"
            )
        source = _source(
            session,
            runner,
            actor,
            model_config,
            str(config.get("table_name") or ""),
            config.get("limiting_sql"),
        )
        schema, table = parse_table_path(config.get("output_table"), "output_table")
        spec = {"primary_key": list(config.get("primary_key") or [])}
        return Plan(
            job.id,
            job.owner_id,
            source,
            spec,
            _memory(model_config),
            model_id=model.id,
            build_id=int(build_id or 0),
            estimator_key=file.storage_key,
            build_output=dict(result.result.get("output") or {}),
            output_schema=schema,
            output_table=table,
        )


@contextmanager
def _interruptible(runner: Runner, wh: Warehouse) -> Iterator[None]:
    """Interrupt the warehouse's statement when the run is cancelled."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if runner.control.cancel.wait(0.1):
                wh.interrupt()
                return

    watcher = threading.Thread(target=watch, name=f"civica-model-{runner.run_id}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()


def _read(runner: Runner, plan: Plan, wh: Warehouse, workdir: Path) -> list[Any]:
    """Export the rows to `workdir/data.csv`; returns the columns."""
    info = wh.describe_table(plan.source.schema, plan.source.table)
    if info is None:
        raise WarehouseError(
            f"table {plan.source.schema}.{plan.source.table} does not exist in database "
            f"{plan.source.database_name}; check table_name"
        )
    export = wh.export(
        plan.source.select(),
        workdir,
        "data",
        PLAIN_CSV,
        timeout=runner.platform.settings.max_run_seconds or None,
    )
    if not export.files:
        raise WarehouseError(
            f"table {plan.source.schema}.{plan.source.table} has no rows"
            + (" matching limiting_sql" if plan.source.limiting_sql else "")
        )
    export.files[0].replace(workdir / "data.csv")
    runner.log(
        f"Read {export.rows if export.rows is not None else 'the'} rows of "
        f"{plan.source.schema}.{plan.source.table} from database {plan.source.database_name}.",
    )
    return list(export.columns)


def _subprocess(
    runner: Runner, workdir: Path, action: str, memory_mb: int
) -> tuple[str, str | None, int | None]:
    from civica.execution.runner import LogSink, Setup, outside_env

    settings = runner.platform.settings
    (workdir / "tmp").mkdir(exist_ok=True)
    env = {
        **outside_env(),
        "HOME": str(workdir),
        "TMPDIR": str(workdir / "tmp"),
        "PYTHONUNBUFFERED": "1",
        # One thread per run: the worker's slots already share the machine's cores.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    setup = Setup(
        argv=[sys.executable, "-m", "civica.modeling", action, str(workdir)],
        cwd=workdir,
        env=env,
        secrets=[],
        notes=[],
        memory_mb=memory_mb,
        cancel_timeout=float(settings.default_cancel_timeout),
        workdir=workdir,
    )
    sink = LogSink(runner.platform, runner.run_id, [])
    state, error, peak = runner._supervise(setup, sink)
    sink.flush()
    problem = workdir / "error.txt"
    if state == "failed" and problem.is_file():
        error = problem.read_text(encoding="utf-8")
    elif state == "failed":
        error = f"{error} The {action} process failed; the run's log has its traceback."
    return state, error, peak


def _masked(message: str, plan: Plan) -> str:
    secret = plan.source.password
    return message.replace(secret, "********") if secret and len(secret) >= 4 else message


def _warehouse_step(runner: Runner, plan: Plan, step: Any) -> str | None:
    """Run `step(wh)` on the source database; returns an error message, or None."""
    try:
        wh = open_warehouse(plan.source.url, plan.source.username, plan.source.password)
    except WarehouseError as exc:
        return _masked(str(exc), plan)
    try:
        with wh, _interruptible(runner, wh):
            step(wh)
    except Interrupted as exc:
        return "" if runner.control.cancel.is_set() else _masked(str(exc), plan)
    except WarehouseError as exc:
        return _masked(str(exc), plan)
    return None


def _fresh(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)


def _stopped(runner: Runner, workdir: Path) -> str:
    state, error = runner._stopped_outcome()
    return runner._end(state, error, None)


def execute_build_run(runner: Runner, workdir: Path) -> str:
    try:
        plan = _build_plan(runner)
    except ServiceError as exc:
        return runner._end("failed", exc.description, None)
    if plan is None:
        return ""
    _fresh(workdir)
    columns: list[Any] = []

    def read(wh: Warehouse) -> None:
        columns.extend(_read(runner, plan, wh, workdir))

    error = _warehouse_step(runner, plan, read)
    if runner.control.cancel.is_set():
        return _stopped(runner, workdir)
    if error is not None:
        return runner._end("failed", error, None)
    spec = {**plan.spec, "column_types": {c.name: c.sql_type for c in columns}}
    (workdir / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    state, error, peak = _subprocess(runner, workdir, "fit", plan.memory_mb)
    if state != "succeeded":
        return runner._end(state, error, peak)
    output = json.loads((workdir / "output.json").read_text(encoding="utf-8"))
    _record_build(runner, plan, workdir / "model.joblib", output)
    return runner._end("succeeded", None, peak)


def _record_build(runner: Runner, plan: Plan, estimator: Path, output: dict[str, Any]) -> None:
    """Keep the estimator as a file (it never expires), the metrics on the build, make the
    build the active one and start the predictions that score on every build."""
    from civica.execution.runner import api_url
    from civica.services.runs import start_run
    from civica.services.sql import file_row, store_file

    platform = runner.platform
    name = f"model_{plan.job_id}_build_{runner.run_id}.joblib"
    key, size = store_file(platform, plan.owner_id, estimator, name, api_url(platform) or "")
    with platform.transaction() as session:
        file = file_row(session, platform, plan.owner_id, key, size, name)
        file.expires_at = None
        session.add(
            ModelRunResultRow(
                run_id=runner.run_id,
                job_id=plan.job_id,
                file_id=file.id,
                result={"output": output, "table": f"{plan.source.schema}.{plan.source.table}"},
            )
        )
        session.add(
            RunOutputRow(run_id=runner.run_id, object_type="File", object_id=file.id, name=name)
        )
        session.add(
            RunLogRow(
                run_id=runner.run_id,
                level="info",
                message=f"Stored the fitted estimator as file {file.id}; build "
                f"{runner.run_id} is now the model's active build.",
            )
        )
        model = session.get(JobRow, plan.job_id)
        if model is None:
            return
        config = dict(model.config or {})
        config["active_build_id"] = runner.run_id
        model.config = config
        ids = [int(i) for i in config.get("prediction_ids") or []]
        owner = session.get(UserRow, model.owner_id)
        for prediction in session.scalars(select(PredictionRow).where(PredictionRow.id.in_(ids))):
            pconfig = dict(prediction.config or {})
            if not pconfig.get("score_on_model_build") or prediction.archived:
                continue
            starter = session.get(UserRow, prediction.owner_id) or owner
            if starter is not None:
                start_run(session, users.actor_for(session, starter), prediction)


def execute_prediction_run(runner: Runner, workdir: Path) -> str:
    try:
        plan = _prediction_plan(runner)
    except ServiceError as exc:
        return runner._end("failed", exc.description, None)
    if plan is None:
        return ""
    _fresh(workdir)
    _fetch(runner, plan.estimator_key, workdir / "model.joblib")
    (workdir / "output.json").write_text(json.dumps(plan.build_output), encoding="utf-8")
    columns: list[Any] = []

    def read(wh: Warehouse) -> None:
        columns.extend(_read(runner, plan, wh, workdir))

    error = _warehouse_step(runner, plan, read)
    if runner.control.cancel.is_set():
        return _stopped(runner, workdir)
    if error is not None:
        return runner._end("failed", error, None)
    types = {c.name: c.sql_type for c in columns}
    missing = [k for k in plan.spec["primary_key"] if k not in types]
    if missing:
        return runner._end(
            "failed",
            f"primary_key names {', '.join(missing)}, which table "
            f"{plan.source.schema}.{plan.source.table} does not have; its columns are "
            f"{', '.join(types)}",
            None,
        )
    spec = {**plan.spec, "column_types": types}
    (workdir / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    state, error, peak = _subprocess(runner, workdir, "score", plan.memory_mb)
    if state != "succeeded":
        return runner._end(state, error, peak)
    stats = json.loads((workdir / "stats.json").read_text(encoding="utf-8"))
    from civica.modeling.train import score_columns

    backend = plan.source.url.get_backend_name()
    target = [
        TableColumn(name=k, sql_type=type_for(types[k], backend), order=i)
        for i, k in enumerate(plan.spec["primary_key"])
    ]
    for name in score_columns(plan.build_output):
        target.append(
            TableColumn(name=name, sql_type=type_for("DOUBLE", backend), order=len(target))
        )
    loaded: list[int] = []

    def write(wh: Warehouse) -> None:
        wh.ensure_schema(plan.output_schema)
        loaded.append(
            wh.load_csv(
                workdir / "scores.csv",
                plan.output_schema,
                plan.output_table,
                target,
                existing="drop",
                timeout=runner.platform.settings.max_run_seconds or None,
            )
        )

    error = _warehouse_step(runner, plan, write)
    if runner.control.cancel.is_set():
        return _stopped(runner, workdir)
    if error is not None:
        return runner._end("failed", error, peak)
    with runner.platform.transaction() as session:
        session.add(
            ModelRunResultRow(
                run_id=runner.run_id,
                job_id=plan.job_id,
                result={
                    "model_id": plan.model_id,
                    "build_id": plan.build_id,
                    "output_table": f"{plan.output_schema}.{plan.output_table}",
                    "rows": loaded[0] if loaded else 0,
                    "score_stats": stats.get("score_stats") or [],
                },
            )
        )
        session.add(
            RunLogRow(
                run_id=runner.run_id,
                level="info",
                message=f"Wrote {loaded[0] if loaded else 0} scored rows to "
                f"{plan.output_schema}.{plan.output_table} with build {plan.build_id} of model "
                f"{plan.model_id}.",
            )
        )
    return runner._end("succeeded", None, peak)


def _fetch(runner: Runner, key: str, target: Path) -> None:
    """Copy a stored object to `target` (a local copy, or a download through a signed URL)."""
    from datetime import UTC, datetime, timedelta

    import httpx

    from civica.services.files import public_base
    from civica.storage import file_store
    from civica.storage.local import LocalStore

    store = file_store(runner.platform)
    if isinstance(store, LocalStore):
        shutil.copyfile(store.path(key), target)
        return
    url = store.download_url(
        key,
        filename=target.name,
        content_type="application/octet-stream",
        inline=False,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        base_url=public_base(runner.platform, ""),
    )
    with httpx.stream("GET", url, timeout=600) as response, open(target, "wb") as fh:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            fh.write(chunk)

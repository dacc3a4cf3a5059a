"""Predictions: a model's active build applied to a table. A prediction is a job (kind
`prediction`, made by `PUT /models/{id}/predictions`); each run scores the table and writes the
primary key and scores to `output_table` (civica.modeling.runs). docs/models.md."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from civica.db.models import JobRow, ModelRunResultRow, RunRow
from civica.platform import Platform
from civica.schemas.predictions import (
    Prediction,
    PredictionRun,
    PredictionSchedule,
    PredictionScheduleIn,
    PredictionSummary,
    PredictionUpdate,
)
from civica.schemas.scripts import Schedule
from civica.services.actor import Actor
from civica.services.errors import BadRequest, NotFound
from civica.services.jobs import JOB, JOB_TYPES, job_state, last_runs, run_brief
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, visible_filter
from civica.services.runs import RunnableKind, cancel_live_run, load_job, start_run
from civica.services.schedules import apply_schedule

JOB_TYPE = JOB_TYPES.setdefault("prediction", "JobTypes::ScoreModel")
RUN_ORDERS = ("id",)
PREDICTION_RUNS = RunnableKind(
    path="predictions", label="Prediction", kinds=frozenset({"prediction"}), noun="prediction"
)


def default_output_table(table_name: str, model_id: int) -> str:
    schema, _, table = table_name.rpartition(".")
    return f"{schema or 'public'}.{table}_scores_model_{model_id}"


def _split(name: str) -> tuple[str, str]:
    schema, _, table = name.rpartition(".")
    return schema or "public", table


def _table_id(session: Session, model_id: int, name: str) -> int | None:
    """The id `/tables` knows the table by, when it has seen it."""
    from civica.db.models import WarehouseTableRow

    model = session.get(JobRow, model_id)
    database_id = (model.config or {}).get("database_id") if model is not None else None
    if not database_id or not name:
        return None
    schema, table = _split(name)
    return session.scalar(
        select(WarehouseTableRow.id).where(
            WarehouseTableRow.remote_host_id == int(database_id),
            WarehouseTableRow.schema_name == schema,
            WarehouseTableRow.table_name == table,
        )
    )


def _summary_fields(session: Session, row: JobRow, run: RunRow | None) -> dict[str, Any]:
    config = dict(row.config or {})
    model_id = int(config.get("model_id") or 0)
    return {
        "id": row.id,
        "model_id": model_id,
        "scored_table_id": _table_id(session, model_id, str(config.get("table_name") or "")),
        "scored_table_name": config.get("table_name") or "",
        "output_table_name": config.get("output_table") or "",
        "state": job_state(run),
        "error": run.error if run is not None else None,
        "started_at": run.started_at if run else None,
        "finished_at": run.finished_at if run else None,
        "last_run": run_brief(run) if run else None,
    }


def prediction_detail(session: Session, actor: Actor, row: JobRow) -> Prediction:
    config = dict(row.config or {})
    run = last_runs(session, [row]).get(row.id)
    scored = []
    results = session.execute(
        select(RunRow, ModelRunResultRow)
        .join(ModelRunResultRow, ModelRunResultRow.run_id == RunRow.id)
        .where(RunRow.job_id == row.id, RunRow.state == "succeeded")
        .order_by(RunRow.id.desc())
    ).all()
    seen = set()
    for done, result in results:
        table = str(result.result.get("output_table") or "")
        if table in seen:
            continue
        seen.add(table)
        schema, name = _split(table)
        model_id = int(result.result.get("model_id") or 0)
        scored.append(
            {
                "id": _table_id(session, model_id, table),
                "schema": schema,
                "name": name,
                "created_at": done.finished_at or done.queued_at,
                "score_stats": result.result.get("score_stats") or [],
            }
        )
    return Prediction.model_validate(
        {
            **_summary_fields(session, row, run),
            "scored_tables": scored,
            "schedule": config.get("schedule") or {},
            "limiting_sql": config.get("limiting_sql"),
            "primary_key": list(config.get("primary_key") or []),
        }
    )


def get_prediction(*, session: Session, actor: Actor, prediction_id: int) -> Prediction:
    row = load_job(session, actor, PREDICTION_RUNS, prediction_id, Level.READ)
    return prediction_detail(session, actor, row)


def list_predictions(
    *, session: Session, actor: Actor, page: PageParams, model_id: int | None = None
) -> Page[PredictionSummary]:
    conds: list[ColumnElement[bool]] = [
        JobRow.kind == "prediction",
        visible_filter(actor, JOB),
        JobRow.archived.is_(False),
    ]
    if model_id is not None:  # in the database: the config's model_id, as stored (a number)
        conds.append(JobRow.config["model_id"].as_integer() == model_id)
    asc = page.order_dir == "asc"
    order = [JobRow.id.asc() if asc else JobRow.id.desc()]
    total = int(session.scalar(select(func.count()).select_from(JobRow).where(*conds)) or 0)
    query = select(JobRow).where(*conds).order_by(*order).offset(page.offset).limit(page.limit)
    window = list(session.scalars(query))
    runs = last_runs(session, window)
    items = [
        PredictionSummary.model_validate(_summary_fields(session, r, runs.get(r.id)))
        for r in window
    ]
    return Page(items=items, total=total, params=page)


def update_prediction(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    prediction_id: int,
    body: PredictionUpdate,
) -> Prediction:
    from civica.services.imports import parse_table_path
    from civica.services.models import check_columns

    row = load_job(session, actor, PREDICTION_RUNS, prediction_id, Level.WRITE)
    config = dict(row.config or {})
    given = body.given()
    if "output_table_name" in given:
        schema, table = parse_table_path(str(given["output_table_name"]), "output_table_name")
        if f"{schema}.{table}" == config.get("table_name"):
            raise BadRequest(
                "output_table_name must differ from the scored table: scores go to a new table"
            )
        config["output_table"] = f"{schema}.{table}"
    if "limiting_sql" in given:
        config["limiting_sql"] = given["limiting_sql"] or None
    if "primary_key" in given:
        keys = [str(k).strip() for k in body.primary_key or [] if str(k).strip()]
        if not keys:
            raise BadRequest("primary_key must name at least one column of the table to score")
        model = session.get(JobRow, int(config.get("model_id") or 0))
        model_config = dict(model.config or {}) if model is not None else {}
        if model_config.get("database_id"):
            check_columns(
                session,
                actor,
                platform,
                int(model_config["database_id"]),
                model_config.get("credential_id"),
                str(config.get("table_name") or ""),
                {"primary_key": keys},
            )
        config["primary_key"] = keys
    row.config = config
    return prediction_detail(session, actor, row)


def get_schedule(*, session: Session, actor: Actor, prediction_id: int) -> PredictionSchedule:
    row = load_job(session, actor, PREDICTION_RUNS, prediction_id, Level.READ)
    return _schedule_view(row)


def _schedule_view(row: JobRow) -> PredictionSchedule:
    config = dict(row.config or {})
    return PredictionSchedule(
        id=row.id,
        schedule=Schedule.model_validate(config.get("schedule") or {}),
        score_on_model_build=bool(config.get("score_on_model_build")),
    )


def put_schedule(
    *, session: Session, actor: Actor, prediction_id: int, body: PredictionScheduleIn
) -> PredictionSchedule:
    row = load_job(session, actor, PREDICTION_RUNS, prediction_id, Level.WRITE)
    config = dict(row.config or {})
    if body.schedule is not None:
        config["schedule"] = {
            k: v for k, v in body.schedule.model_dump(mode="json").items() if v is not None
        }
    if body.score_on_model_build is not None:
        config["score_on_model_build"] = body.score_on_model_build
    row.config = config
    apply_schedule(session, row)
    return _schedule_view(row)


# --- Runs ---


def run_view(run: RunRow, result: ModelRunResultRow | None) -> PredictionRun:
    data = result.result if result is not None else {}
    return PredictionRun.model_validate(
        {
            "id": run.id,
            "prediction_id": run.job_id,
            "state": run.state,
            "exception": run.error,
            "name": data.get("output_table"),
            "created_at": run.finished_at if result is not None else run.queued_at,
            "score_stats": data.get("score_stats") or [],
        }
    )


def _load_run(
    session: Session, actor: Actor, prediction_id: int, run_id: int, level: Level
) -> RunRow:
    row = load_job(session, actor, PREDICTION_RUNS, prediction_id, level)
    run = session.get(RunRow, run_id)
    if run is None or run.job_id != row.id:
        raise NotFound(f"run {run_id} of prediction {prediction_id} not found")
    return run


def create_run(*, session: Session, actor: Actor, prediction_id: int) -> PredictionRun:
    from civica.services.models import MODEL

    row = load_job(session, actor, PREDICTION_RUNS, prediction_id, Level.WRITE)
    model_id = int((row.config or {}).get("model_id") or 0)
    try:
        from civica.services.permissions import load

        model = load(session, actor, MODEL, model_id, Level.READ)
    except NotFound:
        raise BadRequest(
            f"the model {model_id} of this prediction is gone or not shared with you"
        ) from None
    if not (model.config or {}).get("active_build_id"):
        raise BadRequest(
            f"model {model_id} has no successful build to score with: build it first "
            f"(POST /models/{model_id}/builds)"
        )
    return run_view(start_run(session, actor, row), None)


def get_run(*, session: Session, actor: Actor, prediction_id: int, run_id: int) -> PredictionRun:
    run = _load_run(session, actor, prediction_id, run_id, Level.READ)
    return run_view(run, session.get(ModelRunResultRow, run.id))


def list_runs(
    *, session: Session, actor: Actor, prediction_id: int, page: PageParams
) -> Page[PredictionRun]:
    load_job(session, actor, PREDICTION_RUNS, prediction_id, Level.READ)
    total = session.scalar(select(func.count()).where(RunRow.job_id == prediction_id)) or 0
    order = RunRow.id.asc() if page.order_dir == "asc" else RunRow.id.desc()
    runs = list(
        session.scalars(
            select(RunRow)
            .where(RunRow.job_id == prediction_id)
            .order_by(order)
            .limit(page.limit)
            .offset(page.offset)
        )
    )
    results = {
        r.run_id: r
        for r in session.scalars(
            select(ModelRunResultRow).where(ModelRunResultRow.run_id.in_([r.id for r in runs]))
        )
    }
    return Page(items=[run_view(r, results.get(r.id)) for r in runs], total=total, params=page)


def cancel_run(*, session: Session, actor: Actor, prediction_id: int, run_id: int) -> None:
    run = _load_run(session, actor, prediction_id, run_id, Level.WRITE)
    cancel_live_run(session, actor, run.id)

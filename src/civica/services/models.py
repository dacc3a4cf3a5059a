"""Models: a training table, the column to predict and a scikit-learn model type. A model is a
job (kind `model`) and each build a run of it, so `/models/{id}/builds` and `/jobs/{id}/runs`
reach the same runs; the build's estimator file and metrics are in `model_run_results`
(civica.modeling.runs writes them). docs/models.md."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from civica.db.models import JobRow, ModelRow, ModelRunResultRow, PredictionRow, RunRow
from civica.modeling.types import MODEL_TYPES, grid_problems, model_type
from civica.platform import Platform
from civica.schemas.common import archived_label
from civica.schemas.models import (
    Build,
    BuildBrief,
    Model,
    ModelCreate,
    ModelPredictionBrief,
    ModelPredictionCreate,
    ModelSchedule,
    ModelScheduleIn,
    ModelSummary,
    ModelType,
    ModelUpdate,
)
from civica.schemas.scripts import Notifications, Schedule
from civica.services.actor import Actor
from civica.services.errors import BadRequest, NotFound
from civica.services.jobs import JOB, JOB_TYPES, check_parent, job_state, last_runs, run_brief
from civica.services.kinds import ObjectKind
from civica.services.objects import archived_flag, id_list
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, level_of, visible_filter
from civica.services.runs import RunnableKind, cancel_live_run, load_job, start_run
from civica.services.schedules import apply_schedule
from civica.services.users import user_blocks

ORDERS = ("updated_at", "created_at", "name", "model_name")
BUILD_ORDERS = ("id",)
JOB_TYPES.setdefault("model", "JobTypes::BuildModel")
MAX_FOLDS = 50
OUTPUT_INLINE_BYTES = 10_000
# Settings kept in config, as the request names them.
CONFIG_FIELDS = (
    "table_name",
    "database_id",
    "credential_id",
    "description",
    "interaction_terms",
    "box_cox_transformation",
    "model_type_id",
    "primary_key",
    "dependent_variable",
    "dependent_variable_order",
    "excluded_columns",
    "limiting_sql",
    "active_build_id",
    "cross_validation_parameters",
    "number_of_folds",
    "notifications",
    "schedule",
    "time_zone",
)

MODEL_RUNS = RunnableKind(path="models", label="Model", kinds=frozenset({"model"}), noun="model")


# --- Views ---


def _results(session: Session, run_ids: list[int]) -> dict[int, ModelRunResultRow]:
    if not run_ids:
        return {}
    rows = session.scalars(select(ModelRunResultRow).where(ModelRunResultRow.run_id.in_(run_ids)))
    return {r.run_id: r for r in rows}


def _metric(result: ModelRunResultRow | None, name: str) -> float | None:
    if result is None:
        return None
    value = ((result.result.get("output") or {}).get("metrics") or {}).get(name)
    return float(value) if isinstance(value, int | float) else None


def _brief_fields(run: RunRow, result: ModelRunResultRow | None) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": f"Build {run.id}",
        "created_at": run.queued_at,
        "description": None,
        "root_mean_squared_error": _metric(result, "root_mean_squared_error"),
        "r_squared_error": _metric(result, "r_squared_error"),
        "roc_auc": _metric(result, "roc_auc"),
    }


def build_view(run: RunRow, result: ModelRunResultRow | None) -> Build:
    output = (result.result.get("output") or {}) if result else None
    text = json.dumps(output) if output is not None else None
    metadata = None
    if output is not None:
        metadata = json.dumps(
            {
                "features": output.get("features") or [],
                "numeric_features": output.get("numeric_features") or [],
                "categorical_features": output.get("categorical_features") or [],
                "classes": output.get("classes") or [],
            }
        )
    return Build.model_validate(
        {
            **_brief_fields(run, result),
            "state": run.state,
            "error": run.error,
            "transformation_metadata": metadata,
            "output": text if text is not None and len(text) < OUTPUT_INLINE_BYTES else None,
            "output_location": None,
        }
    )


def _schedule(config: dict[str, Any]) -> Schedule:
    return Schedule.model_validate(config.get("schedule") or {})


def _predictions(session: Session, config: dict[str, Any]) -> list[ModelPredictionBrief]:
    ids = [int(i) for i in config.get("prediction_ids") or []]
    if not ids:
        return []
    rows = list(
        session.scalars(
            select(PredictionRow)
            .where(PredictionRow.id.in_(ids), PredictionRow.archived.is_(False))
            .order_by(PredictionRow.id)
        )
    )
    runs = last_runs(session, rows)
    return [prediction_brief(r, runs.get(r.id)) for r in rows]


def prediction_brief(row: JobRow, run: RunRow | None) -> ModelPredictionBrief:
    config = dict(row.config or {})
    return ModelPredictionBrief.model_validate(
        {
            "id": row.id,
            "table_name": config.get("table_name") or "",
            "primary_key": list(config.get("primary_key") or []),
            "limiting_sql": config.get("limiting_sql"),
            "output_table": config.get("output_table") or "",
            "schedule": config.get("schedule") or {},
            "state": job_state(run),
        }
    )


def _fields(session: Session, row: JobRow, run: RunRow | None) -> dict[str, Any]:
    config = dict(row.config or {})
    built = list(
        session.execute(
            select(RunRow, ModelRunResultRow)
            .join(ModelRunResultRow, ModelRunResultRow.run_id == RunRow.id)
            .where(RunRow.job_id == row.id, RunRow.state == "succeeded")
            .order_by(RunRow.id.desc())
        ).all()
    )
    return {
        "id": row.id,
        "table_name": config.get("table_name"),
        "database_id": config.get("database_id"),
        "credential_id": config.get("credential_id"),
        "model_name": row.name or None,
        "description": config.get("description"),
        "interaction_terms": bool(config.get("interaction_terms")),
        "box_cox_transformation": bool(config.get("box_cox_transformation")),
        "model_type_id": config.get("model_type_id"),
        "primary_key": config.get("primary_key"),
        "dependent_variable": config.get("dependent_variable"),
        "dependent_variable_order": list(config.get("dependent_variable_order") or []),
        "excluded_columns": list(config.get("excluded_columns") or []),
        "limiting_sql": config.get("limiting_sql"),
        "cross_validation_parameters": dict(config.get("cross_validation_parameters") or {}),
        "number_of_folds": int(config.get("number_of_folds") or 5),
        "schedule": _schedule(config),
        "parent_id": row.parent_id,
        "time_zone": config.get("time_zone") or "UTC",
        "last_run": run_brief(run) if run else None,
        "user": user_blocks(session, [row.owner_id])[row.owner_id],
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "current_build_state": job_state(run),
        "current_build_exception": run.error if run is not None else None,
        "builds": [BuildBrief.model_validate(_brief_fields(r, res)) for r, res in built],
        "predictions": _predictions(session, config),
        "last_output_location": None,
        "archived": archived_label(row.archived),
    }


def model_detail(session: Session, actor: Actor, row: JobRow) -> Model:
    config = dict(row.config or {})
    run = last_runs(session, [row]).get(row.id)
    fields = _fields(session, row, run)
    return Model.model_validate(
        {
            **fields,
            "active_build_id": config.get("active_build_id"),
            "notifications": Notifications.model_validate(config.get("notifications") or {}),
            "running_as": fields["user"],
            "hidden": row.hidden,
            "my_permission_level": level_of(session, actor, JOB, row).label,
        }
    )


MODEL = ObjectKind(
    path="models",
    object_type=JOB.object_type,
    label="Model",
    row=ModelRow,
    detail=model_detail,
    detail_schema=Model,
    seed_name="models",
)


# --- Checks ---


def _check_database(
    session: Session, actor: Actor, platform: Platform, config: dict[str, Any]
) -> None:
    from civica.services.credentials import login_for_database
    from civica.services.databases import load_database
    from civica.services.sql import resolve_credential

    database_id = config.get("database_id")
    if database_id is None:
        return
    try:
        database = load_database(session, int(database_id))
    except NotFound:
        raise BadRequest(
            f"database_id {database_id} is not a database; GET /databases lists them"
        ) from None
    login_for_database(
        session=session,
        actor=actor,
        secrets=platform.secrets,
        database=database,
        credential_id=resolve_credential(session, actor, database, config.get("credential_id")),
    )


def _check_settings(config: dict[str, Any]) -> None:
    """What can be checked without the data: the type, folds, grid and options."""
    type_id = config.get("model_type_id")
    mtype = None
    if type_id is not None:
        mtype = model_type(int(type_id))
        if mtype is None:
            raise BadRequest(
                f"model_type_id {type_id} is not a model type; GET /models/types lists the "
                f"{len(MODEL_TYPES)} types"
            )
    folds = config.get("number_of_folds")
    if folds is not None and not 2 <= int(folds) <= MAX_FOLDS:
        raise BadRequest(f"number_of_folds must be between 2 and {MAX_FOLDS}; got {folds}")
    if mtype is not None:
        problem = grid_problems(mtype, config.get("cross_validation_parameters"))
        if problem:
            raise BadRequest(problem)
        if config.get("interaction_terms") and not mtype.fint_allowed:
            raise BadRequest(
                f"interaction_terms: model type {mtype.id} ({mtype.algorithm}) does not search "
                "interaction terms (fint_allowed is false); turn it off or pick a linear type"
            )
        if config.get("box_cox_transformation") and mtype.classifier:
            raise BadRequest(
                "box_cox_transformation is valid only with continuous models; model type "
                f"{mtype.id} is {mtype.dv_type}"
            )
    if config.get("table_name"):
        from civica.services.imports import parse_table_path

        parse_table_path(str(config["table_name"]), "table_name")


def check_columns(
    session: Session,
    actor: Actor,
    platform: Platform,
    database_id: int,
    credential_id: int | None,
    table_name: str,
    named: dict[str, list[str]],
) -> None:
    """When the table can be read now: it exists and has every column named (400 if not)."""
    from civica.services.databases import load_database, open_database
    from civica.services.imports import parse_table_path
    from civica.services.sql import resolve_credential
    from civica.warehouse import WarehouseError

    schema, table = parse_table_path(table_name, "table_name")
    database = load_database(session, database_id)
    try:
        with open_database(
            session=session,
            actor=actor,
            platform=platform,
            row=database,
            client_ip=None,
            credential_id=resolve_credential(session, actor, database, credential_id),
        ) as wh:
            info = wh.describe_table(schema, table)
    except (BadRequest, WarehouseError):
        return  # not reachable from here: the build checks
    if info is None:
        raise BadRequest(
            f"table_name {schema}.{table} does not exist in database {database.name}; "
            "GET /tables lists the tables"
        )
    columns = [c.name for c in info.columns]
    for where, names in named.items():
        missing = [n for n in names if n and n not in columns]
        if missing:
            raise BadRequest(
                f"{where} names {', '.join(repr(m) for m in missing)}, which table "
                f"{schema}.{table} does not have; its columns are {', '.join(columns)}"
            )


def _check_model_columns(
    session: Session, actor: Actor, platform: Platform, config: dict[str, Any]
) -> None:
    if not (config.get("database_id") and config.get("table_name")):
        return
    check_columns(
        session,
        actor,
        platform,
        int(config["database_id"]),
        config.get("credential_id"),
        str(config["table_name"]),
        {
            "dependent_variable": [str(config.get("dependent_variable") or "")],
            "primary_key": [str(config.get("primary_key") or "")],
            "excluded_columns": [str(c) for c in config.get("excluded_columns") or []],
        },
    )


def _check_active_build(session: Session, row: JobRow, build_id: int | None) -> None:
    if build_id is None:
        return
    run = session.get(RunRow, build_id)
    if run is None or run.job_id != row.id or session.get(ModelRunResultRow, build_id) is None:
        raise BadRequest(
            f"active_build_id {build_id} is not a successful build of model {row.id}; GET "
            f"/models/{row.id}/builds lists them"
        )


def _apply(
    session: Session,
    actor: Actor,
    platform: Platform,
    row: JobRow,
    body: ModelCreate | ModelUpdate,
) -> None:
    given = body.given()
    dumped = body.model_dump(mode="json")
    config = dict(row.config or {})
    for name in CONFIG_FIELDS:
        if name in given:
            value = dumped[name]
            if isinstance(value, dict) and name in ("schedule", "notifications"):
                value = {k: v for k, v in value.items() if v is not None}
            config[name] = value
    if "model_name" in given:
        row.name = str(given["model_name"])[:255]
    if "hidden" in given:
        row.hidden = bool(given["hidden"])
    if "parent_id" in given:
        parent_id = int(str(given["parent_id"]))
        check_parent(session, actor, row, parent_id)
        row.parent_id = parent_id
    _check_settings(config)
    _check_database(session, actor, platform, config)
    if row.id is not None and "active_build_id" in given:
        _check_active_build(session, row, config.get("active_build_id"))
    if given.keys() & {"table_name", "database_id", "dependent_variable", "primary_key",
                       "excluded_columns", "credential_id"}:  # fmt: skip
        _check_model_columns(session, actor, platform, config)
    row.config = config
    apply_schedule(session, row)


# --- Operations ---


def list_types(*, session: Session, actor: Actor) -> list[ModelType]:
    return [
        ModelType(id=t.id, algorithm=t.algorithm, dv_type=t.dv_type, fint_allowed=t.fint_allowed)
        for t in MODEL_TYPES.values()
    ]


def create_model(*, session: Session, actor: Actor, platform: Platform, body: ModelCreate) -> Model:
    row = ModelRow(owner_id=actor.user_id, type=JOB_TYPES["model"], name="", config={})
    if "active_build_id" in body.given():
        raise BadRequest("active_build_id: a new model has no builds yet; build it first")
    _apply(session, actor, platform, row, body)
    session.add(row)
    session.flush()
    return model_detail(session, actor, row)


def get_model(*, session: Session, actor: Actor, model_id: int) -> Model:
    return model_detail(session, actor, load_job(session, actor, MODEL_RUNS, model_id, Level.READ))


def update_model(
    *, session: Session, actor: Actor, platform: Platform, model_id: int, body: ModelUpdate
) -> None:
    row = load_job(session, actor, MODEL_RUNS, model_id, Level.WRITE)
    _apply(session, actor, platform, row, body)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def list_models(
    *,
    session: Session,
    actor: Actor,
    page: PageParams,
    model_name: str | None = None,
    training_table_name: str | None = None,
    dependent_variable: str | None = None,
    author: str | None = None,
    status: str | None = None,
    hidden: bool | None = None,
    archived: str | None = None,
) -> Page[ModelSummary]:
    conds: list[ColumnElement[bool]] = [
        JobRow.kind == "model",
        visible_filter(actor, JOB),
        JobRow.hidden.is_(bool(hidden)),
    ]
    if (flag := archived_flag(archived)) is not None:
        conds.append(JobRow.archived.is_(flag))
    if author:
        conds.append(JobRow.owner_id.in_(id_list("author", author, "user IDs")))
    if model_name:
        conds.append(JobRow.name.ilike(f"%{model_name}%"))
    # Case-insensitive substrings of the model's JSON config, in the database (SQLite's
    # json_extract, PostgreSQL's ->>), so a page costs a page, not every model.
    for key, wanted in (
        ("table_name", training_table_name),
        ("dependent_variable", dependent_variable),
    ):
        if wanted:
            value = func.lower(JobRow.config[key].as_string())
            conds.append(value.contains(wanted.lower(), autoescape=True))
    statuses = set(_csv(status))
    allowed = {"running", "failed", "succeeded", "idle", "scheduled", "queued", "cancelled"}
    if statuses - allowed:
        raise BadRequest(
            f"status must be one or more of {', '.join(sorted(allowed))}; got {status!r}"
        )
    column: Any = {
        "created_at": JobRow.created_at,
        "name": JobRow.name,
        "model_name": JobRow.name,
    }.get(page.order, JobRow.updated_at)
    asc = page.order_dir == "asc"
    order = [column.asc() if asc else column.desc(), JobRow.id.asc() if asc else JobRow.id.desc()]
    query = select(JobRow).where(*conds).order_by(*order)
    if not statuses:
        total = int(session.scalar(select(func.count()).select_from(JobRow).where(*conds)) or 0)
        window = list(session.scalars(query.offset(page.offset).limit(page.limit)))
        runs = last_runs(session, window)
    else:
        # A model's status comes from its last build: filtered once those are known.
        rows = list(session.scalars(query))
        runs = last_runs(session, rows)

        def has_status(row: JobRow) -> bool:
            state = job_state(runs.get(row.id))
            scheduled = bool(((row.config or {}).get("schedule") or {}).get("scheduled"))
            return state in statuses or (scheduled and "scheduled" in statuses)

        kept = [r for r in rows if has_status(r)]
        total, window = len(kept), kept[page.offset : page.offset + page.limit]
    items = [ModelSummary.model_validate(_fields(session, r, runs.get(r.id))) for r in window]
    return Page(items=items, total=total, params=page)


def get_schedule(*, session: Session, actor: Actor, model_id: int) -> ModelSchedule:
    row = load_job(session, actor, MODEL_RUNS, model_id, Level.READ)
    return ModelSchedule(id=row.id, schedule=_schedule(dict(row.config or {})))


def put_schedule(
    *, session: Session, actor: Actor, model_id: int, body: ModelScheduleIn
) -> ModelSchedule:
    row = load_job(session, actor, MODEL_RUNS, model_id, Level.WRITE)
    schedule = {k: v for k, v in body.schedule.model_dump(mode="json").items() if v is not None}
    row.config = {**dict(row.config or {}), "schedule": schedule}
    apply_schedule(session, row)
    return ModelSchedule(id=row.id, schedule=_schedule(row.config))


# --- Builds ---

REQUIRED_TO_BUILD = ("table_name", "database_id", "dependent_variable", "model_type_id")


def create_build(*, session: Session, actor: Actor, platform: Platform, model_id: int) -> Build:
    row = load_job(session, actor, MODEL_RUNS, model_id, Level.WRITE)
    config = dict(row.config or {})
    missing = [f for f in REQUIRED_TO_BUILD if config.get(f) in (None, "")]
    if missing:
        raise BadRequest(
            f"model {row.id} cannot be built without {', '.join(missing)}: set "
            f"{'it' if len(missing) == 1 else 'them'} with PATCH /models/{row.id}"
        )
    _check_settings(config)
    _check_database(session, actor, platform, config)
    _check_model_columns(session, actor, platform, config)
    run = start_run(session, actor, row)
    return build_view(run, None)


def _load_build(
    session: Session, actor: Actor, model_id: int, build_id: int, level: Level
) -> tuple[JobRow, RunRow]:
    row = load_job(session, actor, MODEL_RUNS, model_id, level)
    run = session.get(RunRow, build_id)
    if run is None or run.job_id != row.id:
        raise NotFound(f"build {build_id} of model {model_id} not found")
    return row, run


def get_build(*, session: Session, actor: Actor, model_id: int, build_id: int) -> Build:
    _, run = _load_build(session, actor, model_id, build_id, Level.READ)
    return build_view(run, session.get(ModelRunResultRow, run.id))


def list_builds(*, session: Session, actor: Actor, model_id: int, page: PageParams) -> Page[Build]:
    load_job(session, actor, MODEL_RUNS, model_id, Level.READ)
    total = session.scalar(select(func.count()).where(RunRow.job_id == model_id)) or 0
    order = RunRow.id.asc() if page.order_dir == "asc" else RunRow.id.desc()
    runs = list(
        session.scalars(
            select(RunRow)
            .where(RunRow.job_id == model_id)
            .order_by(order)
            .limit(page.limit)
            .offset(page.offset)
        )
    )
    results = _results(session, [r.id for r in runs])
    return Page(items=[build_view(r, results.get(r.id)) for r in runs], total=total, params=page)


def cancel_build(*, session: Session, actor: Actor, model_id: int, build_id: int) -> None:
    _, run = _load_build(session, actor, model_id, build_id, Level.WRITE)
    cancel_live_run(session, actor, run.id)


# --- Predictions of a model ---


def put_prediction(
    *,
    session: Session,
    actor: Actor,
    platform: Platform,
    model_id: int,
    body: ModelPredictionCreate,
) -> ModelPredictionBrief:
    """Add (or, for a table already scored by this model, update) a prediction."""
    from civica.services.imports import parse_table_path
    from civica.services.predictions import JOB_TYPE, default_output_table

    row = load_job(session, actor, MODEL_RUNS, model_id, Level.WRITE)
    config = dict(row.config or {})
    schema, table = parse_table_path(body.table_name, "table_name")
    table_name = f"{schema}.{table}"
    primary_key = [k.strip() for k in body.primary_key if k and k.strip()]
    if not primary_key:
        raise BadRequest("primary_key must name at least one column of the table to score")
    output_table = body.output_table or default_output_table(table_name, row.id)
    out_schema, out_table = parse_table_path(output_table, "output_table")
    output_table = f"{out_schema}.{out_table}"
    if (out_schema, out_table) == (schema, table):
        raise BadRequest("output_table must differ from table_name: scores go to a new table")
    if config.get("database_id"):
        check_columns(
            session,
            actor,
            platform,
            int(config["database_id"]),
            config.get("credential_id"),
            table_name,
            {"primary_key": primary_key},
        )
    ids = [int(i) for i in config.get("prediction_ids") or []]
    existing = None
    for candidate in session.scalars(select(PredictionRow).where(PredictionRow.id.in_(ids))):
        if (candidate.config or {}).get("table_name") == table_name and not candidate.archived:
            existing = candidate
    settings: dict[str, Any] = {
        "model_id": row.id,
        "table_name": table_name,
        "primary_key": primary_key,
        "limiting_sql": body.limiting_sql,
        "output_table": output_table,
    }
    if body.schedule is not None:
        settings["schedule"] = {
            k: v for k, v in body.schedule.model_dump(mode="json").items() if v is not None
        }
    if existing is None:
        existing = PredictionRow(
            owner_id=actor.user_id,
            type=JOB_TYPE,
            name=f"Prediction of {table_name} with model {row.id}"[:255],
            config={"score_on_model_build": False, **settings},
        )
        session.add(existing)
        session.flush()
        row.config = {**config, "prediction_ids": [*ids, existing.id]}
    else:
        existing.config = {**dict(existing.config or {}), **settings}
    apply_schedule(session, existing)
    run = last_runs(session, [existing]).get(existing.id)
    return prediction_brief(existing, run)

"""Models: the list, a new model (training table, dependent variable, primary key, model type),
one model with its builds (state and held-out metrics) and a Build button. A build is a run of
the model, so its live logs are on the run page (`pages/runs.py`). docs/models.md."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form
from fastapi.responses import Response

from civica.schemas.models import Build, ModelCreate
from civica.services import databases
from civica.services import models as svc
from civica.services.jobs import JOB_TYPES
from civica.web.core import (
    PREFIX,
    PageError,
    Web,
    page,
    page_router,
    shown_on_form,
    signed_in,
)
from civica.web.pages.runs import job_page

router = page_router()
NAV = ("Models", f"{PREFIX}/models")
WebDep = Annotated[Web, Depends(signed_in)]
job_page(JOB_TYPES["model"], PREFIX + "/models/{id}")


@dataclass(frozen=True)
class BuildRow:
    """One build as the page shows it: the service's view plus the metrics from its output."""

    build: Build
    metrics: dict[str, Any]


def _metrics(build: Build) -> dict[str, Any]:
    if not build.output:
        return {}
    try:
        output = json.loads(build.output)
    except ValueError:
        return {}
    found = output.get("metrics") if isinstance(output, dict) else None
    return dict(found) if isinstance(found, dict) else {}


def _new_form(
    web: Web, error: str | None = None, status: int = 200, values: dict[str, Any] | None = None
) -> Response:
    return web.render(
        "models/new.html",
        status_code=status,
        types=web.call(svc.list_types),
        databases=web.call(databases.list_databases),
        error=error,
        values=values or {},
    )


@router.get("/models")
def list_models(web: WebDep) -> Response:
    found = web.call(svc.list_models, page=web.list_page())
    types = {t.id: t for t in web.call(svc.list_types)}
    return web.render(
        "models/list.html", models=found.items, types=types, pager=web.pager(total=found.total)
    )


@router.get("/models/new")
def new_model(web: WebDep) -> Response:
    return _new_form(web)


@router.post("/models/new")
def create_model(
    web: WebDep,
    name: Annotated[str, Form()] = "",
    database: Annotated[str, Form()] = "",
    table: Annotated[str, Form()] = "",
    dependent_variable: Annotated[str, Form()] = "",
    primary_key: Annotated[str, Form()] = "",
    model_type: Annotated[str, Form()] = "",
) -> Response:
    values = {
        "name": name,
        "database": database,
        "table": table,
        "dependent_variable": dependent_variable,
        "primary_key": primary_key,
        "model_type": model_type,
    }
    data: dict[str, Any] = {
        "model_name": name.strip() or None,
        "database_id": database or None,
        "table_name": table.strip() or None,
        "dependent_variable": dependent_variable.strip() or None,
        "primary_key": primary_key.strip() or None,
        "model_type_id": model_type or None,
    }
    try:
        body = web.build(ModelCreate, {k: v for k, v in data.items() if v is not None})
        model = web.call(svc.create_model, body=body)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _new_form(web, exc.description, exc.status_code, values)
    return web.redirect(f"{PREFIX}/models/{model.id}")


def _detail(web: Web, model_id: int, error: str | None = None, status: int = 200) -> Response:
    model = web.call(svc.get_model, model_id=model_id)
    builds = web.call(svc.list_builds, model_id=model_id, page=page(limit=50, order="id")).items
    types = {t.id: t for t in web.call(svc.list_types)}
    return web.render(
        "models/detail.html",
        status_code=status,
        model=model,
        model_type=types.get(model.model_type_id) if model.model_type_id else None,
        builds=[BuildRow(b, _metrics(b)) for b in builds],
        error=error,
    )


@router.get("/models/{model_id}")
def show_model(model_id: int, web: WebDep) -> Response:
    return _detail(web, model_id)


@router.post("/models/{model_id}/builds")
def start_build(model_id: int, web: WebDep) -> Response:
    try:
        build = web.call(svc.create_build, model_id=model_id)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _detail(web, model_id, exc.description, exc.status_code)
    return web.redirect(f"{PREFIX}/jobs/{model_id}/runs/{build.id}")

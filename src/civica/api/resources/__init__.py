"""One module per resource kind; each exposes `router`. RESOURCE_ROUTERS lists them all."""

from __future__ import annotations

from fastapi import APIRouter

from civica.api.resources import (
    audit,
    credentials,
    databases,
    files,
    imports,
    jobs,
    json_values,
    models,
    predictions,
    projects,
    queries,
    remote_hosts,
    reports,
    scripts,
    tables,
    templates,
    users,
)


def resource_routers() -> list[APIRouter]:
    return [
        users.router,
        audit.router,
        projects.router,
        credentials.router,
        databases.router,
        remote_hosts.router,
        files.router,
        jobs.router,
        scripts.router,
        queries.router,
        tables.router,
        imports.router,
        json_values.router,
        templates.router,
        reports.router,
        models.router,
        predictions.router,
    ]

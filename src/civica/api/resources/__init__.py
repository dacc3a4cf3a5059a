"""One module per resource kind; each exposes `router`. RESOURCE_ROUTERS lists them all."""

from __future__ import annotations

from fastapi import APIRouter

from civica.api.resources import (
    credentials,
    databases,
    files,
    imports,
    jobs,
    json_values,
    projects,
    queries,
    remote_hosts,
    scripts,
    tables,
    templates,
    users,
)


def resource_routers() -> list[APIRouter]:
    return [
        users.router,
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
    ]

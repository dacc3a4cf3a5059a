"""One module per resource kind; each exposes `router`. RESOURCE_ROUTERS lists them all."""

from __future__ import annotations

from fastapi import APIRouter

from civica.api.resources import credentials, databases, projects, remote_hosts, users


def resource_routers() -> list[APIRouter]:
    return [
        users.router,
        projects.router,
        credentials.router,
        databases.router,
        remote_hosts.router,
    ]

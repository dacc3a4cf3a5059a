"""One module per resource kind; each exposes `router`. RESOURCE_ROUTERS lists them all."""

from __future__ import annotations

from fastapi import APIRouter

from civica.api.resources import projects, users


def resource_routers() -> list[APIRouter]:
    return [users.router, projects.router]

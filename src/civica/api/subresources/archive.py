"""`PUT /{kind}/{id}/archive`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute
from civica.schemas.common import ArchiveIn
from civica.services import objects
from civica.services.kinds import ObjectKind


def archive_router(kind: ObjectKind) -> APIRouter:
    router = APIRouter(tags=[kind.path], route_class=CivicaRoute)

    @router.put(
        f"/{kind.path}/{{id}}/archive",
        summary="Update the archive status of this object",
        response_model=kind.detail_schema,
    )
    def put_archive(id: int, body: ArchiveIn, ctx: CtxDep) -> Any:
        return ctx.call(objects.put_archive, kind=kind, object_id=id, status=body.status)

    return router

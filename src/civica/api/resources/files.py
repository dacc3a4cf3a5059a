"""`/files`: thin routes over civica.services.files. The bytes travel through the URLs these
return (served by the object store, or by `file_transfer` for the local store)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute
from civica.api.subresources.projects import projects_router
from civica.api.subresources.shares import shares_router
from civica.schemas.files import File, FileCreate, FileMultipartCreate, FileMultipartPost, FilePost
from civica.schemas.preprocess import PreprocessCsv, PreprocessCsvCreate
from civica.services import files as svc
from civica.services import preprocess

router = APIRouter(tags=["files"], route_class=CivicaRoute)


@router.post("/files", summary="Initiate an upload of a file into the platform", status_code=201)
def post_file(body: FileCreate, request: Request, ctx: CtxDep) -> FilePost:
    return ctx.call(svc.create_file, body=body, base_url=str(request.base_url))


@router.post("/files/multipart", summary="Initiate a multipart upload", status_code=201)
def post_multipart(body: FileMultipartCreate, request: Request, ctx: CtxDep) -> FileMultipartPost:
    return ctx.call(svc.create_multipart_file, body=body, base_url=str(request.base_url))


@router.post(
    "/files/multipart/{id}/complete",
    summary="Complete a multipart upload",
    status_code=204,
    response_class=Response,
)
def post_multipart_complete(id: int, ctx: CtxDep) -> None:
    ctx.call(svc.complete_multipart_file, file_id=id)


@router.post("/files/preprocess/csv", summary="Create a Preprocess CSV", status_code=201)
def post_preprocess_csv(body: PreprocessCsvCreate, ctx: CtxDep) -> PreprocessCsv:
    return ctx.call(preprocess.create_preprocess, body=body)


# Not inline: it may ask an S3 store whether a direct upload has finished.
@router.get("/files/{id}", summary="Get details about a file")
def get_file(
    id: int,
    request: Request,
    ctx: CtxDep,
    link_expires_at: datetime | None = Query(
        None,
        description="The date and time the download link will expire. Must be a time between "
        "now and 36 hours from now. Defaults to 30 minutes from now.",
    ),
    inline: bool | None = Query(
        None, description="If true, will return a url that can be displayed inline in HTML"
    ),
) -> File:
    return ctx.call(
        svc.get_file,
        file_id=id,
        base_url=str(request.base_url),
        link_expires_at=link_expires_at,
        inline=inline,
    )


router.include_router(shares_router(svc.FILE))
router.include_router(projects_router(svc.FILE))

"""Files: the files you can read, upload (the browser sends the bytes straight to the store's
upload URL, with a progress bar, as the API's clients do), one file, download."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from civica.db.models import FileRow
from civica.schemas.files import FileCreate
from civica.services import files as svc
from civica.services import objects
from civica.services.actor import Actor
from civica.services.permissions import visible_filter
from civica.web.core import (
    LIST_SIZE,
    PREFIX,
    PageError,
    Web,
    object_page,
    page_router,
    signed_in,
)

router = page_router()
NAV = ("Files", f"{PREFIX}/files")
WebDep = Annotated[Web, Depends(signed_in)]
object_page("file", PREFIX + "/files/{id}")


@dataclass(frozen=True)
class FileItem:
    id: int
    name: str
    size: int | None
    state: str
    created_at: datetime
    expires_at: datetime | None


def visible_files(
    *, session: Session, actor: Actor, limit: int = LIST_SIZE, page: int = 1
) -> list[FileItem]:
    """The newest files the actor may read (the API has no list of files; projects show them),
    `limit` a page."""
    rows = session.execute(
        select(
            FileRow.id,
            FileRow.name,
            FileRow.size,
            FileRow.state,
            FileRow.created_at,
            FileRow.expires_at,
        )
        .where(visible_filter(actor, svc.FILE))
        .order_by(FileRow.id.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    ).all()
    return [FileItem(*r) for r in rows]


@router.get("/files")
def list_files(web: WebDep, project: int | None = None) -> Response:
    found = web.call(visible_files, page=web.page_number)
    return web.render(
        "files/list.html", files=found, project=project, pager=web.pager(shown=len(found))
    )


@router.post("/files/start")
async def start_upload(request: Request, web: WebDep) -> Response:
    """Begin an upload (JSON in, JSON out, for the page's script): the store's upload URL and
    fields, and the page to open once the bytes are in."""
    try:
        data: dict[str, Any] = await request.json()
    except ValueError:
        data = {}
    project = data.pop("project", None)

    def start() -> dict[str, Any]:
        body = web.build(FileCreate, {"name": data.get("name")})
        started = web.call(svc.create_file, body=body, base_url=web.base_url)
        if project:
            web.call(
                objects.put_object_project,
                kind=svc.FILE,
                object_id=started.id,
                project_id=int(project),
            )
        return {
            "id": started.id,
            "uploadUrl": started.upload_url,
            "uploadFields": started.upload_fields,
            "page": f"{PREFIX}/files/{started.id}",
        }

    from starlette.concurrency import run_in_threadpool

    try:
        return JSONResponse(await run_in_threadpool(start), status_code=201)
    except PageError as exc:
        return JSONResponse({"errorDescription": exc.description}, status_code=exc.status_code)


@router.get("/files/{file_id}")
def show_file(file_id: int, web: WebDep) -> Response:
    found = web.call(svc.get_file, file_id=file_id, base_url=web.base_url)
    return web.render("files/detail.html", file=found)


@router.get("/files/{file_id}/download")
def download_file(file_id: int, web: WebDep) -> Response:
    found = web.call(svc.get_file, file_id=file_id, base_url=web.base_url)
    if not found.download_url:
        raise PageError(409, f"file {file_id} cannot be downloaded now: its upload is not complete")
    return web.redirect(found.download_url)

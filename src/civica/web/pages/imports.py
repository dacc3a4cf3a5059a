"""Imports: the list, and one import (source, destination, syncs, its runs with links to the run
pages, and a Run button). Imports are made through the API or the client (docs/imports.md);
these pages show them and run them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from civica.services import imports as svc
from civica.services.jobs import JOB_TYPES
from civica.web.core import PREFIX, PageError, Web, page_router, shown_on_form, signed_in
from civica.web.pages.runs import job_page

router = page_router()
NAV = ("Imports", f"{PREFIX}/imports")
WebDep = Annotated[Web, Depends(signed_in)]
job_page(JOB_TYPES["import"], PREFIX + "/imports/{id}")


@router.get("/imports")
def list_imports(web: WebDep) -> Response:
    found = web.call(svc.list_imports, page=web.list_page())
    return web.render("imports/list.html", imports=found.items, pager=web.pager(total=found.total))


def _detail(web: Web, import_id: int, error: str | None = None, status: int = 200) -> Response:
    found = web.call(svc.get_import, import_id=import_id)
    history = web.call(svc.list_import_runs, import_id=import_id)
    return web.render(
        "imports/detail.html", status_code=status, item=found, history=history, error=error
    )


@router.get("/imports/{import_id}")
def show_import(import_id: int, web: WebDep) -> Response:
    return _detail(web, import_id)


@router.post("/imports/{import_id}/run")
def run_import(import_id: int, web: WebDep) -> Response:
    try:
        started = web.call(svc.run_import, import_id=import_id)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _detail(web, import_id, exc.description, exc.status_code)
    return web.redirect(f"{PREFIX}/jobs/{import_id}/runs/{started.run_id}")

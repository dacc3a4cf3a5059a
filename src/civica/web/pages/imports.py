"""Imports: the list, a form that loads one of your CSV files into a table (a CSV import, run at
once), and one import (source, destination, syncs, its runs with links to the run pages, and a
Run button). Other kinds of import are made through the API or the client (docs/imports.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form
from fastapi.responses import Response

from civica.schemas.imports import CsvImportCreate
from civica.services import databases, runs
from civica.services import imports as svc
from civica.services.jobs import JOB_TYPES
from civica.web.core import PREFIX, PageError, Web, page_router, shown_on_form, signed_in
from civica.web.pages.files import visible_files
from civica.web.pages.runs import job_page

router = page_router()
NAV = ("Imports", f"{PREFIX}/imports")
WebDep = Annotated[Web, Depends(signed_in)]
job_page(JOB_TYPES["import"], PREFIX + "/imports/{id}")


DELIMITERS = ("comma", "tab", "pipe")
EXISTING = ("fail", "truncate", "append", "drop")


def _list(
    web: Web, error: str | None = None, status: int = 200, values: dict[str, str] | None = None
) -> Response:
    found = web.call(svc.list_imports, page=web.list_page())
    return web.render(
        "imports/list.html",
        status_code=status,
        imports=found.items,
        pager=web.pager(total=found.total),
        files=[f for f in web.call(visible_files) if f.state == "uploaded"],
        databases=web.call(databases.list_databases),
        delimiters=DELIMITERS,
        existing=EXISTING,
        error=error,
        values=values or {},
    )


@router.get("/imports")
def list_imports(web: WebDep) -> Response:
    return _list(web)


@router.post("/imports/csv")
def create_csv_import(
    web: WebDep,
    file_id: Annotated[str, Form()] = "",
    database_id: Annotated[str, Form()] = "",
    schema_name: Annotated[str, Form()] = "public",
    table: Annotated[str, Form()] = "",
    header: Annotated[str, Form()] = "",
    delimiter: Annotated[str, Form()] = "comma",
    existing: Annotated[str, Form()] = "fail",
) -> Response:
    """Load one uploaded CSV file into a table: a CSV import, created and run at once; the
    browser goes to the run's page, with its live log."""
    values = {
        "file_id": file_id,
        "database_id": database_id,
        "schema_name": schema_name,
        "table": table,
        "header": header,
        "delimiter": delimiter,
        "existing": existing,
    }
    try:
        if not file_id.isdigit():
            raise PageError(400, "choose a file to load (upload one on the Files page first)")
        if not database_id.isdigit():
            raise PageError(400, "choose the database to load the file into")
        body = web.build(
            CsvImportCreate,
            {
                "source": {"file_ids": [int(file_id)]},
                "destination": {
                    "schema": schema_name.strip(),
                    "table": table.strip(),
                    "remote_host_id": int(database_id),
                },
                "first_row_is_header": bool(header),
                "column_delimiter": delimiter,
                "existing_table_rows": existing,
            },
        )
        made = web.call(svc.create_csv_import, body=body, client_ip=web.client_ip)
        run = web.call(
            runs.create_run, rkind=svc.CSV_IMPORT_RUNS, job_id=made.id, client_ip=web.client_ip
        )
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _list(web, exc.description, exc.status_code, values)
    return web.redirect(f"{PREFIX}/jobs/{made.id}/runs/{run.model_dump()['id']}")


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

"""Queries: a SQL box with a database picker; each query page polls until its run ends, then
shows the preview rows and links the CSV file among the run's outputs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form
from fastapi.responses import Response

from civica.schemas.queries import QueryCreate
from civica.services import databases, runs
from civica.services import queries as svc
from civica.services.jobs import JOB_TYPES
from civica.web.core import PREFIX, PageError, Web, page, page_router, shown_on_form, signed_in
from civica.web.pages.runs import job_page

router = page_router()
NAV = ("Queries", f"{PREFIX}/queries")
WebDep = Annotated[Web, Depends(signed_in)]
job_page(JOB_TYPES["query"], PREFIX + "/queries/{id}")
PREVIEW_ROWS = 100


def _list(
    web: Web,
    sql: str = "",
    database: int | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return web.render(
        "queries/list.html",
        status_code=status,
        queries=web.call(svc.list_queries, page=page(limit=50, order="created_at")).items,
        databases=web.call(databases.list_databases),
        sql=sql,
        database=database,
        error=error,
    )


@router.get("/queries")
def list_queries(web: WebDep) -> Response:
    return _list(web)


@router.post("/queries")
def create_query(
    web: WebDep,
    sql: Annotated[str, Form()] = "",
    database: Annotated[str, Form()] = "",
) -> Response:
    try:
        body = web.build(
            QueryCreate,
            {
                "database": database or None,
                "sql": sql,
                "preview_rows": PREVIEW_ROWS,
                # CSV options make the run keep the whole result as a file (the CSV download).
                "include_header": True,
                "compression": "none",
            },
        )
        query = web.call(svc.create_query, body=body, client_ip=web.client_ip)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        db = int(database) if database.isdigit() else None
        return _list(web, sql, db, exc.description, exc.status_code)
    return web.redirect(f"{PREFIX}/queries/{query.id}")


def _result(web: Web, query_id: int) -> dict[str, Any]:
    query = web.call(svc.get_query, query_id=query_id)
    outputs: list[Any] = []
    if query.last_run_id and query.state not in ("queued", "running"):
        outputs = list(
            web.call(
                runs.list_outputs,
                rkind=svc.QUERY,
                job_id=query_id,
                run_id=query.last_run_id,
                page=page(limit=20, order="id", direction="asc"),
            ).items
        )
    csv_files = [o for o in outputs if o.object_type == "File" and o.object_id]
    return {"query": query, "csv_files": csv_files}


@router.get("/queries/{query_id}")
def show_query(query_id: int, web: WebDep) -> Response:
    return web.render("queries/detail.html", **_result(web, query_id))


@router.get("/queries/{query_id}/result")
def query_result(query_id: int, web: WebDep) -> Response:
    """The result panel (htmx fragment): polls itself every second until the run ends."""
    return web.render("queries/_result.html", **_result(web, query_id))

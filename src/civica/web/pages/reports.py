"""Reports: the list, a new report (HTML code, or the output of a script), and one report shown
in a sandboxed iframe at its signed content URL (`auth_code_url`), with the Share and Projects
dialogs. docs/reports.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form
from fastapi.responses import Response

from civica.schemas.reports import ReportCreate
from civica.services import reports as svc
from civica.web.core import (
    PREFIX,
    PageError,
    Web,
    object_page,
    page_router,
    shown_on_form,
    signed_in,
)

router = page_router()
NAV = ("Reports", f"{PREFIX}/reports")
WebDep = Annotated[Web, Depends(signed_in)]
object_page("report", PREFIX + "/reports/{id}")


@router.get("/reports")
def list_reports(web: WebDep) -> Response:
    found = web.call(svc.list_reports, page=web.list_page())
    return web.render("reports/list.html", reports=found.items, pager=web.pager(total=found.total))


@router.get("/reports/new")
def new_report(web: WebDep, script: int | None = None) -> Response:
    values = {"source": "script", "script_id": str(script)} if script else {}
    return web.render("reports/new.html", values=values)


@router.post("/reports/new")
def create_report(
    web: WebDep,
    name: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "code",
    code_body: Annotated[str, Form()] = "",
    script_id: Annotated[str, Form()] = "",
) -> Response:
    values = {"name": name, "source": source, "code_body": code_body, "script_id": script_id}
    data: dict[str, Any] = {"name": name.strip() or None}
    try:
        if source == "script":
            if not script_id.strip():
                raise PageError(400, "script id: give the id of the script whose output to show")
            data["script_id"] = script_id.strip()
        elif source == "code":
            if not code_body.strip():
                raise PageError(400, "HTML: write the report's HTML, or pick a script instead")
            data["code_body"] = code_body
        else:
            raise PageError(400, f"source must be code or script; got {source!r}")
        body = web.build(ReportCreate, {k: v for k, v in data.items() if v is not None})
        report = web.call(svc.create_report, body=body, base_url=web.base_url)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return web.render(
            "reports/new.html", status_code=exc.status_code, values=values, error=exc.description
        )
    return web.redirect(f"{PREFIX}/reports/{report.id}")


@router.get("/reports/{report_id}")
def show_report(report_id: int, web: WebDep) -> Response:
    report = web.call(svc.get_report, report_id=report_id, base_url=web.base_url)
    return web.render("reports/detail.html", report=report)

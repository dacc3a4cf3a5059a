"""Jobs of every kind (scripts, queries, imports...) and their runs: the jobs list, one run's
state, live logs (htmx polling over `runs.list_logs` every second while the run is live),
outputs and cancel.

`/ui/jobs/{id}` sends the browser to the page of that job's kind (`JOB_PAGES`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import Response

from civica.services import jobs, runs
from civica.services.runs import RunnableKind
from civica.web.core import (
    LIST_SIZE,
    PREFIX,
    PageError,
    Web,
    object_page,
    page,
    page_router,
    signed_in,
)

router = page_router()
NAV = ("Jobs", f"{PREFIX}/jobs")
WebDep = Annotated[Web, Depends(signed_in)]
object_page("job", PREFIX + "/jobs/{id}")

ANY_JOB = RunnableKind(path="jobs", label="Job", kinds=None, noun="job")
# Job type (as jobs report it) -> the page showing jobs of that type; page modules add theirs.
JOB_PAGES: dict[str, str] = {}
# Run output types as the API names them -> the object_type whose page shows them.
OUTPUT_OBJECTS = {
    "File": "file",
    "Project": "project",
    "Credential": "credential",
    "JSONValue": "json_value",
    "Report": "report",
    "Table": "table",
}


def job_page(job_type: str, pattern: str) -> None:
    """Declare the page of jobs of `job_type` (e.g. `JobTypes::Query`; `pattern` has `{id}`)."""
    JOB_PAGES[job_type] = pattern


@router.get("/jobs")
def list_jobs(web: WebDep, state: str | None = None) -> Response:
    found = web.call(jobs.list_jobs, limit=LIST_SIZE, page_num=web.page_number, state=state or None)
    return web.render(
        "runs/jobs.html",
        jobs=found,
        job_pages=JOB_PAGES,
        state=state,
        pager=web.pager(shown=len(found)),
    )


@router.get("/jobs/{job_id}")
def show_job(job_id: int, web: WebDep) -> Response:
    job = web.call(jobs.get_job, job_id=job_id)
    pattern = JOB_PAGES.get(job.type)
    if pattern is None:
        raise PageError(404, f"there is no page for jobs of type {job.type} yet")
    return web.redirect(pattern.format(id=job_id))


def _logs(web: Web, job_id: int, run_id: int, after: int | None) -> Any:
    return web.call(runs.list_logs, rkind=ANY_JOB, job_id=job_id, run_id=run_id, last_id=after)


def _outputs(web: Web, job_id: int, run_id: int) -> list[Any]:
    found = web.call(
        runs.list_outputs,
        rkind=ANY_JOB,
        job_id=job_id,
        run_id=run_id,
        page=page(limit=100, order="id", direction="asc"),
    )
    return list(found.items)


@router.get("/jobs/{job_id}/runs/{run_id}")
def show_run(job_id: int, run_id: int, web: WebDep) -> Response:
    job = web.call(jobs.get_job, job_id=job_id)
    logs = _logs(web, job_id, run_id, None)
    # Read after the logs: the state shown is never behind the lines shown.
    run = web.call(runs.get_run, rkind=ANY_JOB, job_id=job_id, run_id=run_id)
    return web.render(
        "runs/detail.html",
        job=job,
        job_url=JOB_PAGES.get(job.type, "").format(id=job_id),
        run=run,
        logs=logs,
        outputs=_outputs(web, job_id, run_id),
        output_objects=OUTPUT_OBJECTS,
    )


@router.get("/jobs/{job_id}/runs/{run_id}/logs")
def run_logs(job_id: int, run_id: int, web: WebDep, after: int | None = None) -> Response:
    """New log lines since `after` and the next poll, while the run is live (htmx fragment).
    Once it has ended, the page reloads to show its final state, all its lines and outputs."""
    logs = _logs(web, job_id, run_id, after)
    if not logs.live:
        return Response(status_code=200, headers={"HX-Refresh": "true"})
    run = web.call(runs.get_run, rkind=ANY_JOB, job_id=job_id, run_id=run_id)
    return web.render("runs/_logs.html", job_id=job_id, run=run, logs=logs)


@router.post("/jobs/{job_id}/runs/{run_id}/cancel")
def cancel_run(job_id: int, run_id: int, web: WebDep) -> Response:
    web.call(runs.cancel_run, rkind=ANY_JOB, job_id=job_id, run_id=run_id)
    return web.redirect(f"{PREFIX}/jobs/{job_id}/runs/{run_id}")

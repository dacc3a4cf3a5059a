"""`/jobs`: one view over every runnable object; thin routes over civica.services.jobs, with the
shared runs, shares and projects routers."""

from __future__ import annotations

from fastapi import APIRouter, Query

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.subresources.projects import projects_router
from civica.api.subresources.runs import runs_router
from civica.api.subresources.shares import shares_router
from civica.schemas.jobs import Job, JobRun, JobSummary, JobTree, TriggerEmail
from civica.services import jobs as svc
from civica.services.runs import RunnableKind

router = APIRouter(tags=["jobs"], route_class=CivicaRoute)

JOB_RUNS = RunnableKind(
    path="jobs",
    label="Job",
    kinds=None,
    noun="job",
    run_schema=JobRun,
    summaries={"post": "Run a job", "get": "Check status of a job"},
    post_status=201,
    outputs_writable=False,
)


@router.get("/jobs", summary="List jobs")
@inline
def list_jobs(
    ctx: CtxDep,
    limit: int | None = Query(None, description="The maximum number of jobs to return."),
    page_num: int | None = Query(
        None, description="Page number of the results to return. Defaults to the first page, 1."
    ),
    state: str | None = Query(
        None,
        description="The job's state. One or more of queued, running, succeeded, failed, and "
        'cancelled. Specify multiple values as a comma-separated list (e.g., "A,B").',
    ),
    type: str | None = Query(
        None,
        description="The job's type. Specify multiple values as a comma-separated list (e.g., "
        '"A,B").',
    ),
    q: str | None = Query(None, description="Query string to search on the id, name, and job type"),
    permission: str | None = Query(
        None,
        description='A permissions string, one of "read", "write", or "manage". Lists only jobs '
        "for which the current user has that permission.",
    ),
    hidden: bool | None = Query(
        None,
        description="If specified to be true, returns hidden items. Defaults to false, returning "
        "non-hidden items.",
    ),
    archived: str | None = Query(
        None, description="The archival status of the requested object(s)."
    ),
    author: str | None = Query(
        None,
        description="If specified, return items from any of these authors. It accepts a "
        "comma-separated list of user IDs.",
    ),
) -> list[JobSummary]:
    return ctx.call(
        svc.list_jobs,
        limit=limit,
        page_num=page_num,
        state=state,
        type=type,
        q=q,
        permission=permission,
        hidden=hidden,
        archived=archived,
        author=author,
    )


@router.get("/jobs/{id}", summary="Show basic job info")
@inline
def get_job(id: int, ctx: CtxDep) -> Job:
    return ctx.call(svc.get_job, job_id=id)


@router.get(
    "/jobs/{id}/parents", summary="Show chain of parents as a list that this job triggers from"
)
@inline
def list_parents(id: int, ctx: CtxDep) -> list[Job]:
    return ctx.call(svc.list_parents, job_id=id)


@router.get("/jobs/{id}/children", summary="Show nested tree of children that this job triggers")
@inline
def list_children(id: int, ctx: CtxDep) -> JobTree:
    return ctx.call(svc.list_children, job_id=id)


@router.post("/jobs/{id}/trigger_email", summary="Generate and retrieve trigger email address")
def post_trigger_email(id: int, ctx: CtxDep) -> TriggerEmail:
    return ctx.call(svc.trigger_email, job_id=id)


router.include_router(runs_router(JOB_RUNS))
router.include_router(shares_router(svc.JOB))
router.include_router(projects_router(svc.JOB))

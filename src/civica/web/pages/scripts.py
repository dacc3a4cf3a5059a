"""Scripts of every type: the list, a new script (type, name, code editor, params), one script
(edit, params, run, run history). Runs themselves are shown by `pages/runs.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form
from fastapi.responses import Response
from pydantic import BaseModel

from civica.schemas.scripts import (
    PARAM_TYPES,
    ContainerScriptCreate,
    ContainerScriptUpdate,
    CustomScriptCreate,
    CustomScriptUpdate,
    JavaScriptScriptCreate,
    JavaScriptScriptUpdate,
    PythonScriptCreate,
    PythonScriptUpdate,
    RScriptCreate,
    RScriptUpdate,
)
from civica.schemas.sql_scripts import SqlScriptCreate, SqlScriptUpdate
from civica.services import credentials, databases, runs, templates
from civica.services import scripts as svc
from civica.services.jobs import JOB_TYPES
from civica.web.core import (
    PREFIX,
    PageError,
    Web,
    page,
    page_router,
    shown_on_form,
    signed_in,
)
from civica.web.pages.runs import job_page

router = page_router()
NAV = ("Scripts", f"{PREFIX}/scripts")
WebDep = Annotated[Web, Depends(signed_in)]


@dataclass(frozen=True)
class ScriptForm:
    """How the page edits one script type: its request schemas, the field holding its code and
    the editor's language, and whether it runs against a database."""

    label: str
    create: type[BaseModel]
    update: type[BaseModel]
    code_field: str | None
    editor: str
    database: bool = False
    credential_required: bool = False
    image: bool = False
    template: bool = False


FORMS: dict[str, ScriptForm] = {
    "python3": ScriptForm("Python", PythonScriptCreate, PythonScriptUpdate, "source", "python"),
    "r": ScriptForm("R", RScriptCreate, RScriptUpdate, "source", "r"),
    "javascript": ScriptForm(
        "JavaScript",
        JavaScriptScriptCreate,
        JavaScriptScriptUpdate,
        "source",
        "javascript",
        database=True,
        credential_required=True,
    ),
    "sql": ScriptForm("SQL", SqlScriptCreate, SqlScriptUpdate, "sql", "sql", database=True),
    "container": ScriptForm(
        "Container",
        ContainerScriptCreate,
        ContainerScriptUpdate,
        "docker_command",
        "shell",
        image=True,
    ),
    "custom": ScriptForm(
        "Custom (from a template)",
        CustomScriptCreate,
        CustomScriptUpdate,
        None,
        "",
        template=True,
    ),
}
KIND_OF_TYPE = {job_type: kind for kind, job_type in JOB_TYPES.items()}


def _form(kind: str) -> ScriptForm:
    if kind not in FORMS:
        raise PageError(400, f"type must be one of {', '.join(FORMS)}; got {kind!r}")
    return FORMS[kind]


def params_from_form(
    names: list[str], types: list[str], defaults: list[str], required: list[str]
) -> list[dict[str, Any]]:
    """The params table's rows (blank names are empty rows and skipped)."""
    out = []
    for i, name in enumerate(names):
        if not name.strip():
            continue
        param: dict[str, Any] = {
            "name": name.strip(),
            "type": types[i] if i < len(types) else "string",
            "required": (required[i] if i < len(required) else "no") == "yes",
        }
        if i < len(defaults) and defaults[i] != "":
            param["default"] = defaults[i]
        out.append(param)
    return out


def _choices(web: Web, form: ScriptForm) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if form.database:
        out["databases"] = web.call(databases.list_databases)
        out["credentials"] = web.call(
            credentials.list_credentials, page=page(limit=200), type="Database"
        ).items
    if form.template:
        out["templates"] = web.call(templates.list_templates, page=page(limit=200)).items
    return out


@router.get("/scripts")
def list_scripts(web: WebDep, type: str | None = None) -> Response:
    found = web.call(svc.list_scripts, page=web.list_page(), type=type or None)
    return web.render(
        "scripts/list.html",
        scripts=found.items,
        forms=FORMS,
        type=type,
        pager=web.pager(total=found.total),
    )


@router.get("/scripts/new")
def new_script(web: WebDep, type: str = "python3", project: int | None = None) -> Response:
    form = _form(type)
    return web.render(
        "scripts/new.html",
        kind=type,
        form=form,
        forms=FORMS,
        project=project,
        param_types=PARAM_TYPES,
        values={},
        **_choices(web, form),
    )


@router.post("/scripts/new")
def create_script(
    web: WebDep,
    kind: Annotated[str, Form()],
    name: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    database: Annotated[str, Form()] = "",
    credential: Annotated[str, Form()] = "",
    image: Annotated[str, Form()] = "",
    template: Annotated[str, Form()] = "",
    project: Annotated[str, Form()] = "",
    param_name: Annotated[list[str] | None, Form()] = None,
    param_type: Annotated[list[str] | None, Form()] = None,
    param_default: Annotated[list[str] | None, Form()] = None,
    param_required: Annotated[list[str] | None, Form()] = None,
) -> Response:
    form = _form(kind)
    params = params_from_form(
        param_name or [], param_type or [], param_default or [], param_required or []
    )
    data: dict[str, Any] = {"name": name.strip() or None}
    if form.code_field:
        data[form.code_field] = code
    if form.image:
        data["docker_image_name"] = image.strip() or None
        data["required_resources"] = {"cpu": 1024, "memory": 1024}
    if form.template:
        data["from_template_id"] = template or None
    else:
        data["params"] = params
    if form.database:
        data["remote_host_id"] = database or None
        data["credential_id"] = credential or None
    data = {k: v for k, v in data.items() if v is not None}
    skind = svc.SCRIPT_KINDS[kind]
    try:
        body = web.build(form.create, data)
        script: Any = web.call(svc.create_script, skind=skind, body=body)
        script_id = int(script.id)
        if project:
            from civica.services import objects

            web.call(
                objects.put_object_project,
                kind=skind.object_kind,
                object_id=script_id,
                project_id=int(project),
            )
    except (PageError, ValueError) as exc:
        if isinstance(exc, PageError) and not shown_on_form(exc):
            raise
        message = exc.description if isinstance(exc, PageError) else str(exc)
        return web.render(
            "scripts/new.html",
            status_code=getattr(exc, "status_code", 400),
            kind=kind,
            form=form,
            forms=FORMS,
            project=project,
            param_types=PARAM_TYPES,
            values={"name": name, "code": code, "image": image, "params": params},
            error=message,
            **_choices(web, form),
        )
    return web.redirect(f"{PREFIX}/scripts/{script_id}")


def _script(web: Web, script_id: int) -> tuple[str, Any]:
    generic = web.call(svc.get_any_script, script_id=script_id)
    kind = KIND_OF_TYPE.get(str(getattr(generic, "type", "")), "")
    if kind not in svc.SCRIPT_KINDS:
        raise PageError(404, f"script {script_id} not found")
    return kind, web.call(svc.get_script, skind=svc.SCRIPT_KINDS[kind], script_id=script_id)


def _detail(web: Web, script_id: int, error: str | None = None, status_code: int = 200) -> Response:
    kind, script = _script(web, script_id)
    form = FORMS[kind]
    history = web.call(
        runs.list_runs,
        rkind=svc.SCRIPT_KINDS[kind].runnable,
        job_id=script_id,
        page=page(limit=20, order="id"),
    ).items
    code = str(getattr(script, form.code_field, "") or "") if form.code_field else ""
    return web.render(
        "scripts/detail.html",
        status_code=status_code,
        kind=kind,
        form=form,
        script=script,
        code=code,
        params=list(getattr(script, "params", []) or []),
        arguments=dict(getattr(script, "arguments", {}) or {}),
        history=history,
        param_types=PARAM_TYPES,
        error=error,
        **_choices(web, form),
    )


@router.get("/scripts/{script_id}")
def show_script(script_id: int, web: WebDep) -> Response:
    return _detail(web, script_id)


@router.post("/scripts/{script_id}")
def save_script(
    script_id: int,
    web: WebDep,
    name: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    image: Annotated[str, Form()] = "",
    param_name: Annotated[list[str] | None, Form()] = None,
    param_type: Annotated[list[str] | None, Form()] = None,
    param_default: Annotated[list[str] | None, Form()] = None,
    param_required: Annotated[list[str] | None, Form()] = None,
) -> Response:
    kind, _ = _script(web, script_id)
    form = FORMS[kind]
    data: dict[str, Any] = {}
    if name.strip():
        data["name"] = name.strip()
    if form.code_field:
        data[form.code_field] = code
    if form.image and image.strip():
        data["docker_image_name"] = image.strip()
    if not form.template:
        data["params"] = params_from_form(
            param_name or [], param_type or [], param_default or [], param_required or []
        )
    try:
        body = web.build(form.update, data)
        web.call(svc.update_script, skind=svc.SCRIPT_KINDS[kind], script_id=script_id, body=body)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _detail(web, script_id, exc.description, exc.status_code)
    return web.redirect(f"{PREFIX}/scripts/{script_id}")


def numbers_from_form(label: str, text: str, low: int, high: int) -> list[int]:
    """`9, 17` -> [9, 17]; anything else is a 400 that says what a list looks like."""
    out: list[int] = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        if not part.isdigit() or not low <= int(part) <= high:
            raise PageError(
                400, f"{label}: {part!r} is not a number from {low} to {high}; write e.g. 9, 17"
            )
        out.append(int(part))
    return sorted(set(out))


@router.post("/scripts/{script_id}/schedule")
def save_schedule(
    script_id: int,
    web: WebDep,
    scheduled: Annotated[str, Form()] = "",
    days: Annotated[list[str] | None, Form()] = None,
    hours: Annotated[str, Form()] = "",
    minutes: Annotated[str, Form()] = "",
    time_zone: Annotated[str, Form()] = "",
) -> Response:
    """The schedule block, saved through the scripts service (which computes next_run_at)."""
    kind, _ = _script(web, script_id)
    try:
        schedule = {
            "scheduled": scheduled == "yes",
            "scheduled_days": numbers_from_form("days", ",".join(days or []), 0, 6),
            "scheduled_hours": numbers_from_form("hours", hours, 0, 23),
            "scheduled_minutes": numbers_from_form("minutes", minutes, 0, 59),
        }
        data: dict[str, Any] = {"schedule": schedule}
        if time_zone.strip():
            data["time_zone"] = time_zone.strip()
        body = web.build(FORMS[kind].update, data)
        web.call(svc.update_script, skind=svc.SCRIPT_KINDS[kind], script_id=script_id, body=body)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _detail(web, script_id, exc.description, exc.status_code)
    return web.redirect(f"{PREFIX}/scripts/{script_id}")


@router.post("/scripts/{script_id}/run")
async def run_script(script_id: int, web: WebDep) -> Response:
    form_data = await web.request.form()
    arguments = {
        key[len("arg_") :]: value
        for key, value in form_data.multi_items()
        if key.startswith("arg_") and isinstance(value, str) and value != ""
    }
    return await _start(web, script_id, arguments)


async def _start(web: Web, script_id: int, arguments: dict[str, str]) -> Response:
    from starlette.concurrency import run_in_threadpool

    def start() -> Response:
        kind, script = _script(web, script_id)
        skind = svc.SCRIPT_KINDS[kind]
        try:
            if getattr(script, "params", None):
                body = web.build(FORMS[kind].update, {"arguments": arguments})
                web.call(svc.update_script, skind=skind, script_id=script_id, body=body)
            run: Any = web.call(runs.create_run, rkind=skind.runnable, job_id=script_id)
        except PageError as exc:
            if not shown_on_form(exc):
                raise
            return _detail(web, script_id, exc.description, exc.status_code)
        return web.redirect(f"{PREFIX}/jobs/{script_id}/runs/{run.id}")

    return await run_in_threadpool(start)


for _kind in svc.SCRIPT_KINDS:
    job_page(JOB_TYPES[_kind], PREFIX + "/scripts/{id}")

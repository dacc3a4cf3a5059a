"""Scripts of each type: Python 3, R, JavaScript, container and custom (from a template).

Each type is a `ScriptKind`: its row class, its job type, the fields it keeps in `config`, its
response schema and the capabilities mounted under its path (runs, shares, projects, archive).
All live in the one `jobs` table, so `/jobs/{id}` and `/scripts/{id}` reach every one of them.
"""

from __future__ import annotations

import re
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from civica.db.models import (
    ContainerScriptRow,
    CustomScriptRow,
    JavaScriptScriptRow,
    JobRow,
    ProjectObjectRow,
    ProjectRow,
    PythonScriptRow,
    RScriptRow,
    RunOutputRow,
    RunRow,
    ScriptTemplateRow,
    SqlScriptRow,
    UserRow,
)
from civica.execution.params import effective_script
from civica.execution.runner import DEFAULT_MEMORY_MB
from civica.schemas.common import In, archived_label
from civica.schemas.jobs import RunBase, run_schema
from civica.schemas.scripts import (
    PARAM_TYPES,
    ContainerScript,
    CustomScript,
    CustomScriptSummary,
    JavaScriptScript,
    ProjectBrief,
    PythonScript,
    RScript,
    Script,
    ScriptCancelled,
    ScriptHistoryOutput,
    ScriptHistoryRun,
    ScriptLinks,
    ScriptSummary,
    ScriptType,
    ScriptUpdate,
)
from civica.schemas.sql_scripts import LegacyScriptCreate, SqlRun, SqlScript, SqlScriptCreate
from civica.services.actor import Actor
from civica.services.errors import BadRequest, NotFound, ServiceError
from civica.services.jobs import JOB, JOB_TYPES, check_parent, job_state, last_runs, run_brief
from civica.services.kinds import KINDS, ObjectKind
from civica.services.objects import archived_filter, id_list
from civica.services.paging import Page, PageParams
from civica.services.permissions import Level, level_of, load, visible_filter
from civica.services.runs import RunnableKind, cancel_live_run, load_job, start_run
from civica.services.schedules import apply_schedule, time_zone_of
from civica.services.users import user_blocks

ORDERS = ("updated_at", "name", "created_at", "last_run.updated_at")
CUSTOM_ORDERS = ("updated_at", "name", "created_at")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_CANCEL_TIMEOUT = 10
COMMON_FIELDS = (
    "user_context",
    "params",
    "arguments",
    "schedule",
    "notifications",
    "next_run_at",
    "time_zone",
    "target_project_id",
    "running_as_id",
)
DOCKER_FIELDS = ("required_resources", "instance_type", "cancel_timeout", "partition_label")
# How `/scripts?type=` names each kind, and what `/scripts/types` lists.
TYPE_NAMES = {
    "python3": "python3",
    "r": "r",
    "javascript": "javascript",
    "containers": "container",
    "container": "container",
    "custom": "custom",
    "sql": "sql",
}
# SQL scripts are jobs of the SqlRunner type, as on Civis.
JOB_TYPES.setdefault("sql", "JobTypes::SqlRunner")


@dataclass(frozen=True)
class ScriptKind:
    kind: str
    path: str
    label: str
    seed_name: str
    noun: str
    run_field: str
    row: type[JobRow]
    detail_schema: type[BaseModel]
    fields: tuple[str, ...]
    kinds: frozenset[str] = field(default_factory=frozenset)

    @property
    def object_kind(self) -> ObjectKind:
        return _OBJECT_KINDS[self.kind]

    @property
    def runnable(self) -> RunnableKind:
        return _RUNNABLE[self.kind]


PYTHON = ScriptKind(
    kind="python3",
    path="scripts/python3",
    label="Python Script",
    seed_name="python docker",
    noun="python",
    run_field="python_id",
    row=PythonScriptRow,
    detail_schema=PythonScript,
    fields=(*COMMON_FIELDS, *DOCKER_FIELDS, "docker_image_tag", "source"),
)
R = ScriptKind(
    kind="r",
    path="scripts/r",
    label="R Script",
    seed_name="r docker",
    noun="r",
    run_field="r_id",
    row=RScriptRow,
    detail_schema=RScript,
    fields=(*COMMON_FIELDS, *DOCKER_FIELDS, "docker_image_tag", "source"),
)
JAVASCRIPT = ScriptKind(
    kind="javascript",
    path="scripts/javascript",
    label="JavaScript Script",
    seed_name="scripted sql",
    noun="javascript",
    run_field="javascript_id",
    row=JavaScriptScriptRow,
    detail_schema=JavaScriptScript,
    fields=(*COMMON_FIELDS, "source", "remote_host_id", "credential_id"),
)
CONTAINER = ScriptKind(
    kind="container",
    path="scripts/containers",
    label="Container Script",
    seed_name="container docker",
    noun="container",
    run_field="container_id",
    row=ContainerScriptRow,
    detail_schema=ContainerScript,
    fields=(
        *COMMON_FIELDS,
        *DOCKER_FIELDS,
        "repo_http_uri",
        "repo_ref",
        "remote_host_credential_id",
        "git_credential_id",
        "docker_command",
        "docker_image_name",
        "docker_image_tag",
    ),
    # Custom scripts are reached through /scripts/containers too (the public client does).
    kinds=frozenset({"container", "custom"}),
)
CUSTOM = ScriptKind(
    kind="custom",
    path="scripts/custom",
    label="Custom Script",
    seed_name="Job",
    noun="custom",
    run_field="custom_id",
    row=CustomScriptRow,
    detail_schema=CustomScript,
    fields=(
        "arguments",
        "remote_host_id",
        "credential_id",
        "schedule",
        "notifications",
        "time_zone",
        "target_project_id",
        "required_resources",
        "partition_label",
        "running_as_id",
    ),
)
SQL = ScriptKind(
    kind="sql",
    path="scripts/sql",
    label="SQL Script",
    seed_name="scripts",
    noun="sql",
    run_field="sql_id",
    row=SqlScriptRow,
    detail_schema=SqlScript,
    fields=(*COMMON_FIELDS, "sql", "remote_host_id", "credential_id", "csv_settings"),
)
SCRIPT_KINDS = {k.kind: k for k in (PYTHON, R, JAVASCRIPT, CONTAINER, CUSTOM, SQL)}


def _kind_of(row: JobRow) -> ScriptKind:
    return SCRIPT_KINDS[row.kind]


# --- Details ---


def _projects(session: Session, actor: Actor, ids: Sequence[int]) -> dict[int, list[ProjectBrief]]:
    out: dict[int, list[ProjectBrief]] = defaultdict(list)
    if not ids:
        return out
    pkind = KINDS["project"]
    rows = session.execute(
        select(ProjectObjectRow.object_id, ProjectRow.id, ProjectRow.name)
        .join(ProjectRow, ProjectRow.id == ProjectObjectRow.project_id)
        .where(
            ProjectObjectRow.object_type == JOB.object_type,
            ProjectObjectRow.object_id.in_(list(ids)),
            visible_filter(actor, pkind),
        )
        .order_by(ProjectRow.id)
    ).all()
    for object_id, pid, pname in rows:
        out[object_id].append(ProjectBrief.model_construct(id=pid, name=pname))
    return out


def _params_out(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": p.get("name"),
            "label": p.get("label"),
            "description": p.get("description"),
            "type": p.get("type") or "string",
            "required": bool(p.get("required")),
            "value": p.get("value"),
            "default": p.get("default"),
            "allowed_values": p.get("allowed_values") or [],
        }
        for p in params
    ]


def _resources(config: dict[str, Any]) -> dict[str, Any]:
    wanted = config.get("required_resources") or {}
    return {
        "cpu": int(wanted.get("cpu") or 1024),
        "memory": int(wanted.get("memory") or DEFAULT_MEMORY_MB),
        "disk_space": wanted.get("disk_space"),
    }


def script_detail(
    session: Session, actor: Actor, row: JobRow, as_kind: ScriptKind | None = None
) -> BaseModel:
    """The full view of a script, as its own type (or `as_kind`: a custom script as a container)."""
    skind = as_kind or _kind_of(row)
    runs = last_runs(session, [row])
    run = runs.get(row.id)
    blocks = user_blocks(session, {row.owner_id, *_running_as(row)})
    config = dict(row.config or {})
    effective = effective_script(session, row) if row.kind == "custom" else None
    view_config = effective.config if effective is not None else config
    templates = session.execute(
        select(ScriptTemplateRow.id, ScriptTemplateRow.name).where(
            ScriptTemplateRow.script_id == row.id
        )
    ).all()
    template = (
        session.get(ScriptTemplateRow, row.from_template_id) if row.from_template_id else None
    )
    dependents = 0
    if templates:
        dependents = (
            session.scalar(
                select(func.count()).where(
                    JobRow.from_template_id.in_([t.id for t in templates]), JobRow.kind == "custom"
                )
            )
            or 0
        )
    running_as = config.get("running_as_id") or row.owner_id
    fields: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "author": blocks[row.owner_id],
        "state": job_state(run),
        "finished_at": run.finished_at if run else None,
        "category": "script",
        "projects": _projects(session, actor, [row.id])[row.id],
        "parent_id": row.parent_id,
        "user_context": config.get("user_context") or "runner",
        "params": _params_out(effective.params if effective else config.get("params") or []),
        "arguments": (effective.arguments if effective else config.get("arguments")) or {},
        "is_template": bool(templates),
        "published_as_template_id": templates[0].id if templates else None,
        "from_template_id": row.from_template_id,
        "template_dependents_count": dependents,
        "template_script_name": template.name if template else None,
        "links": ScriptLinks(
            details=f"/{skind.path}/{row.id}", runs=f"/{skind.path}/{row.id}/runs"
        ),
        "schedule": config.get("schedule") or {},
        "notifications": config.get("notifications") or {},
        "running_as": blocks.get(running_as, blocks[row.owner_id]),
        "next_run_at": row.next_run_at,
        "time_zone": time_zone_of(session, row),
        "last_run": run_brief(run) if run else None,
        "my_permission_level": level_of(session, actor, JOB, row).label,
        "hidden": row.hidden,
        "target_project_id": config.get("target_project_id"),
        "archived": archived_label(row.archived),
        "running_as_id": config.get("running_as_id"),
        "required_resources": _resources(view_config),
        "cancel_timeout": view_config.get("cancel_timeout") or DEFAULT_CANCEL_TIMEOUT,
    }
    for name in skind.fields:
        if name not in fields:
            fields[name] = view_config.get(name)
    if skind is CUSTOM and effective is not None:
        fields["backing_script_type"] = JOB_TYPES.get(effective.kind, effective.kind)
        fields["template_note"] = template.note if template else None
        fields["code_preview"] = effective.config.get("source") or effective.config.get(
            "docker_command"
        )
        fields["last_successful_run"] = _last_successful(session, row.id)
    if skind is CONTAINER and row.kind == "custom":
        fields["type"] = JOB_TYPES["custom"]
    if skind is SQL or (row.kind == "sql" and as_kind is GENERIC):
        _sql_fields(fields, config)
    schema = Script if as_kind is GENERIC else skind.detail_schema
    if schema is Script:
        fields["template_script_id"] = template.script_id if template else None
        fields["expanded_arguments"] = fields["arguments"]
    return schema.model_validate(fields)


GENERIC = ScriptKind(
    kind="generic",
    path="scripts",
    label="Script",
    seed_name="script",
    noun="script",
    run_field="script_id",
    row=JobRow,
    detail_schema=Script,
    fields=(),
)


def _sql_fields(fields: dict[str, Any], config: dict[str, Any]) -> None:
    """What a SQL script shows besides the common fields: its SQL with the arguments put in,
    and its CSV settings with the defaults filled in."""
    from civica.services.sql import csv_settings, param_values, render_sql

    params = list(config.get("params") or [])
    arguments = dict(config.get("arguments") or {})
    values = param_values(params, arguments)
    secret = {
        str(p.get("name")): "********"
        for p in params
        if str(p.get("type")).startswith("credential")
    }
    shown = {k: v for k, v in values.items() if k not in secret}
    fields["sql"] = str(config.get("sql") or "")
    fields["expanded_arguments"] = shown
    fields["code_preview"] = render_sql(fields["sql"], shown)
    try:
        fields["csv_settings"] = csv_settings(config.get("csv_settings")).as_dict()
    except ServiceError:
        fields["csv_settings"] = csv_settings(None).as_dict()


def _last_successful(session: Session, job_id: int) -> Any:
    run = session.scalar(
        select(RunRow)
        .where(RunRow.job_id == job_id, RunRow.state == "succeeded")
        .order_by(RunRow.id.desc())
        .limit(1)
    )
    return run_brief(run) if run else None


def _running_as(row: JobRow) -> set[int]:
    value = (row.config or {}).get("running_as_id")
    return {int(value)} if isinstance(value, int) else set()


def _detail_for(skind: ScriptKind) -> Any:
    def detail(session: Session, actor: Actor, row: JobRow) -> BaseModel:
        return script_detail(session, actor, row, skind)

    return detail


_OBJECT_KINDS: dict[str, ObjectKind] = {
    k.kind: ObjectKind(
        path=k.path,
        object_type=JOB.object_type,  # one id space: shares and projects are the job's
        label=k.label,
        row=k.row,
        detail=_detail_for(k),
        detail_schema=k.detail_schema,
        seed_name=k.seed_name,
    )
    for k in SCRIPT_KINDS.values()
}
_RUNNABLE: dict[str, RunnableKind] = {
    k.kind: RunnableKind(
        path=k.path,
        label=k.label,
        kinds=k.kinds or frozenset({k.kind}),
        noun=k.noun,
        run_schema=SqlRun
        if k.kind == "sql"
        else run_schema(
            {
                "python3": "PythonRun",
                "r": "RRun",
                "javascript": "JavaScriptRun",
                "container": "ContainerRun",
                "custom": "CustomRun",
            }[k.kind],
            k.run_field,
            k.noun,
        ),
        run_field=k.run_field,
        worker_api=k is CONTAINER,
        outputs_writable=k.kind != "sql",
    )
    for k in SCRIPT_KINDS.values()
}
assert all(issubclass(r.run_schema, RunBase) for r in _RUNNABLE.values())


# --- Validation ---


def _check_params(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for i, param in enumerate(params):
        name = str(param.get("name") or "")
        if not NAME.match(name):
            raise BadRequest(
                f"params[{i}].name must be a variable name (letters, digits and _, not starting "
                f"with a digit); got {name!r}"
            )
        if name.upper() in seen:
            raise BadRequest(f"params[{i}].name {name!r} is used twice (names ignore case)")
        seen.add(name.upper())
        ptype = str(param.get("type") or "string")
        if ptype not in PARAM_TYPES:
            raise BadRequest(
                f"params[{i}].type must be one of {', '.join(PARAM_TYPES)}; got {ptype!r}"
            )
        out.append({**{k: v for k, v in param.items() if v is not None}, "type": ptype})
    return out


def _check_arguments(arguments: dict[str, Any], params: list[dict[str, Any]]) -> None:
    names = {str(p.get("name")) for p in params}
    unknown = sorted(set(arguments) - names)
    if unknown:
        declared = ", ".join(sorted(names)) or "none"
        raise BadRequest(
            f"arguments {', '.join(map(repr, unknown))} are not params of this script (its "
            f"params: {declared}); declare them in params first"
        )


def _check_config(session: Session, actor: Actor, config: dict[str, Any]) -> None:
    resources = config.get("required_resources")
    if resources:
        cpu, memory = resources.get("cpu"), resources.get("memory")
        if cpu is not None and cpu < 2:
            raise BadRequest(f"required_resources.cpu must be at least 2 shares; got {cpu}")
        if memory is not None and memory < 4:
            raise BadRequest(f"required_resources.memory must be at least 4 MiB; got {memory}")
        disk = resources.get("disk_space")
        if disk is not None and disk < 0:
            raise BadRequest(f"required_resources.disk_space cannot be negative; got {disk}")
    timeout = config.get("cancel_timeout")
    if timeout is not None and not 0 <= timeout <= 3600:
        raise BadRequest(f"cancel_timeout must be 0 to 3600 seconds; got {timeout}")
    zone = config.get("time_zone")
    if zone:
        try:
            zoneinfo.ZoneInfo(str(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise BadRequest(
                f"time_zone must be an IANA time zone such as America/Chicago; got {zone!r}"
            ) from None
    context = config.get("user_context")
    if context is not None and context not in ("runner", "author"):
        raise BadRequest(f'user_context must be "runner" or "author"; got {context!r}')
    runner = config.get("running_as_id")
    if runner is not None and session.get(UserRow, runner) is None:
        raise BadRequest(f"running_as_id {runner} is not a user")


def _check_sql(session: Session, actor: Actor, config: dict[str, Any]) -> None:
    from civica.services.databases import load_database
    from civica.services.sql import csv_settings

    if not str(config.get("sql") or "").strip():
        raise BadRequest("sql cannot be empty: send the statements to run")
    database_id = config.get("remote_host_id")
    if database_id is None:
        raise BadRequest("remote_host_id is required: the database the SQL runs on")
    try:
        load_database(session, int(database_id))
    except NotFound:
        raise BadRequest(
            f"remote_host_id {database_id} is not a database; GET /databases lists them"
        ) from None
    credential_id = config.get("credential_id")
    if credential_id is not None:
        from civica.db.models import CredentialRow

        cred = session.get(CredentialRow, credential_id)
        if cred is None or cred.archived:
            raise BadRequest(
                f"credential_id {credential_id} is not a credential; GET /credentials lists yours"
            )
    raw = config.get("csv_settings")
    if isinstance(raw, dict):
        config["csv_settings"] = {k: v for k, v in raw.items() if v is not None}
        csv_settings(config["csv_settings"])


def _template(session: Session, actor: Actor, template_id: int) -> ScriptTemplateRow:
    from civica.services.templates import TEMPLATE

    row: ScriptTemplateRow = load(session, actor, TEMPLATE, template_id, Level.READ)
    return row


def _apply(
    session: Session,
    actor: Actor,
    skind: ScriptKind,
    row: JobRow,
    body: In,
    *,
    replace: bool,
) -> None:
    """Set the row's fields from a create, replace (PUT) or update (PATCH) body."""
    given = body.given()
    dumped = body.model_dump(mode="json")
    if "name" in given:
        name = str(given["name"]).strip()
        if not name:
            raise BadRequest("name cannot be empty")
        row.name = name
    if replace or "parent_id" in given:
        parent_id = dumped.get("parent_id")
        check_parent(session, actor, row, parent_id)
        row.parent_id = parent_id
    if "hidden" in given:
        row.hidden = bool(given["hidden"])
    config = {} if replace else dict(row.config or {})
    for name in skind.fields:
        if name in given:
            config[name] = dumped[name]
    if "params" in config:
        config["params"] = _check_params(list(config["params"] or []))
    if isinstance(config.get("required_resources"), dict):
        config["required_resources"] = {
            k: v for k, v in config["required_resources"].items() if v is not None
        }
    for block in ("schedule", "notifications"):
        if isinstance(config.get(block), dict):
            config[block] = {k: v for k, v in config[block].items() if v is not None}
    _check_config(session, actor, config)
    if skind is CUSTOM:
        template = _template(session, actor, int(row.from_template_id or 0))
        backing = session.get(JobRow, template.script_id)
        params = list((backing.config or {}).get("params") or []) if backing else []
    else:
        params = list(config.get("params") or [])
    if config.get("arguments"):
        _check_arguments(dict(config["arguments"]), params)
    if skind is SQL:
        _check_sql(session, actor, config)
    row.config = config
    apply_schedule(session, row)


# --- Operations ---


def create_script(*, session: Session, actor: Actor, skind: ScriptKind, body: In) -> BaseModel:
    row = skind.row(owner_id=actor.user_id, type=JOB_TYPES[skind.kind], name="", config={})
    if skind is CUSTOM:
        template_id = int(body.model_dump()["from_template_id"])
        template = _template(session, actor, template_id)
        row.from_template_id = template.id
        row.name = template.name
    if skind is CONTAINER and not body.given().get("name"):
        row.name = "Container Script"
    _apply(session, actor, skind, row, body, replace=False)
    session.add(row)
    session.flush()
    return script_detail(session, actor, row, skind)


def create_legacy_script(*, session: Session, actor: Actor, body: LegacyScriptCreate) -> BaseModel:
    """`POST /scripts` (legacy): a SQL script, answered as `GET /scripts/{id}` shows it."""
    if body.template_script_id is not None:
        raise BadRequest(
            "template_script_id is not supported: publish the script as a template with POST "
            "/templates/scripts, then create scripts from it with POST /scripts/custom"
        )
    fields = body.model_dump(exclude={"template_script_id"}, exclude_unset=True, by_alias=False)
    created = create_script(
        session=session, actor=actor, skind=SQL, body=SqlScriptCreate.model_validate(fields)
    )
    row = load_job(session, actor, ANY_SCRIPT, int(created.model_dump()["id"]), Level.READ)
    return script_detail(session, actor, row, GENERIC)


def _load(session: Session, actor: Actor, skind: ScriptKind, script_id: int, level: Level) -> Any:
    return load(session, actor, skind.object_kind, script_id, level)


def get_script(*, session: Session, actor: Actor, skind: ScriptKind, script_id: int) -> BaseModel:
    row = _load(session, actor, skind, script_id, Level.READ)
    return script_detail(session, actor, row, skind)


def replace_script(
    *, session: Session, actor: Actor, skind: ScriptKind, script_id: int, body: In
) -> BaseModel:
    row = _load(session, actor, skind, script_id, Level.WRITE)
    _apply(session, actor, skind, row, body, replace=True)
    session.flush()
    return script_detail(session, actor, row, skind)


def update_script(
    *, session: Session, actor: Actor, skind: ScriptKind, script_id: int, body: In
) -> BaseModel:
    row = _load(session, actor, skind, script_id, Level.WRITE)
    _apply(session, actor, skind, row, body, replace=False)
    session.flush()
    return script_detail(session, actor, row, skind)


# --- `/scripts/{id}` and friends: any script type ---

ANY_SCRIPT = RunnableKind(
    path="scripts", label="Script", kinds=frozenset(SCRIPT_KINDS), noun="script"
)


def get_any_script(*, session: Session, actor: Actor, script_id: int) -> BaseModel:
    row = load_job(session, actor, ANY_SCRIPT, script_id, Level.READ)
    return script_detail(session, actor, row, GENERIC)


def update_any_script(
    *, session: Session, actor: Actor, script_id: int, body: ScriptUpdate
) -> BaseModel:
    row = load_job(session, actor, ANY_SCRIPT, script_id, Level.WRITE)
    skind = _kind_of(row)
    allowed = {"name", "parent_id", *skind.fields}
    extra = sorted(set(body.given()) - allowed)
    if extra:
        raise BadRequest(
            f"{', '.join(extra)} cannot be set on a {skind.label.lower()}; use "
            f"PATCH /{skind.path}/{script_id} for its own fields"
        )
    _apply(session, actor, skind, row, body, replace=False)
    session.flush()
    return script_detail(session, actor, row, GENERIC)


def run_any_script(*, session: Session, actor: Actor, script_id: int) -> None:
    row = load_job(session, actor, ANY_SCRIPT, script_id, Level.WRITE)
    start_run(session, actor, row)


def cancel_any_script(*, session: Session, actor: Actor, script_id: int) -> ScriptCancelled:
    """Cancel the script's newest queued or running run."""
    row = load_job(session, actor, ANY_SCRIPT, script_id, Level.WRITE)
    run = session.scalar(
        select(RunRow)
        .where(RunRow.job_id == row.id, RunRow.state.in_(("queued", "running")))
        .order_by(RunRow.id.desc())
        .limit(1)
    )
    if run is None:
        raise NotFound(f"script {script_id} has no queued or running run to cancel")
    run = cancel_live_run(session, actor, run.id)
    return ScriptCancelled(id=run.id, state=run.state, is_cancel_requested=run.is_cancel_requested)


def list_script_types(*, session: Session, actor: Actor) -> list[ScriptType]:
    return [
        ScriptType(name=n) for n in ("python3", "r", "javascript", "containers", "custom", "sql")
    ]


def list_history(*, session: Session, actor: Actor, script_id: int) -> list[ScriptHistoryRun]:
    row = load_job(session, actor, ANY_SCRIPT, script_id, Level.READ)
    runs = session.scalars(
        select(RunRow).where(RunRow.job_id == row.id).order_by(RunRow.id.desc()).limit(100)
    ).all()
    outputs: dict[int, list[ScriptHistoryOutput]] = defaultdict(list)
    if runs:
        for out in session.scalars(
            select(RunOutputRow)
            .where(
                RunOutputRow.run_id.in_([r.id for r in runs]), RunOutputRow.object_type == "File"
            )
            .order_by(RunOutputRow.id)
        ):
            outputs[out.run_id].append(
                ScriptHistoryOutput(output_name=out.name, file_id=out.object_id, path=None)
            )
    return [
        ScriptHistoryRun(
            id=r.id,
            sql_id=row.id,
            state=r.state,
            is_cancel_requested=r.is_cancel_requested,
            finished_at=r.finished_at,
            error=r.error,
            output=outputs[r.id],
        )
        for r in runs
    ]


def _status_filter(status: str) -> ColumnElement[bool]:
    wanted = {s.strip().lower() for s in status.split(",") if s.strip()}
    allowed = {"running", "failed", "succeeded", "idle", "scheduled", "queued", "cancelled"}
    bad = sorted(wanted - allowed)
    if bad:
        raise BadRequest(
            "status must be one or more of running, failed, succeeded, idle, scheduled; "
            f"got {', '.join(bad)}"
        )
    states = {s for s in wanted if s not in ("idle", "scheduled")}
    if "running" in wanted:
        states.add("queued")
    last_state = select(RunRow.state).where(RunRow.id == JobRow.last_run_id).scalar_subquery()
    options: list[ColumnElement[bool]] = [last_state.in_(sorted(states))] if states else []
    if "idle" in wanted:
        options.append(JobRow.last_run_id.is_(None))
    if "scheduled" in wanted:
        options.append(JobRow.next_run_at.is_not(None))
    return or_(*options) if options else JobRow.id.is_(None)


def _ordered(page: PageParams) -> list[Any]:
    if page.order == "last_run.updated_at":
        column: Any = JobRow.last_run_id
    else:
        column = getattr(JobRow, page.order)
    asc = page.order_dir == "asc"
    return [column.asc() if asc else column.desc(), JobRow.id.asc() if asc else JobRow.id.desc()]


def list_scripts(
    *,
    session: Session,
    actor: Actor,
    page: PageParams,
    type: str | None = None,
    author: str | None = None,
    status: str | None = None,
    hidden: bool | None = None,
    archived: str | None = None,
) -> Page[ScriptSummary]:
    conds: list[ColumnElement[bool]] = [
        JobRow.kind.in_(sorted(SCRIPT_KINDS)),
        visible_filter(actor, JOB),
        JobRow.hidden.is_(bool(hidden)),
    ]
    arch = archived_filter(JOB, archived)
    if arch is not None:
        conds.append(arch)
    if type:
        names = [t.strip().lower() for t in type.split(",") if t.strip()]
        bad = [n for n in names if n not in TYPE_NAMES and n != "sql"]
        if bad:
            raise BadRequest(
                "type must be one or more of sql, python3, javascript, r, containers, custom; "
                f"got {', '.join(bad)}"
            )
        conds.append(JobRow.kind.in_([TYPE_NAMES[n] for n in names if n in TYPE_NAMES]))
    if author:
        conds.append(JobRow.owner_id.in_(id_list("author", author, "user ids")))
    if status:
        conds.append(_status_filter(status))
    total = session.scalar(select(func.count()).select_from(JobRow).where(*conds)) or 0
    rows = session.scalars(
        select(JobRow).where(*conds).order_by(*_ordered(page)).limit(page.limit).offset(page.offset)
    ).all()
    runs = last_runs(session, rows)
    authors = user_blocks(session, {r.owner_id for r in rows})
    projects = _projects(session, actor, [r.id for r in rows])
    templated = set(
        session.scalars(
            select(ScriptTemplateRow.script_id).where(
                ScriptTemplateRow.script_id.in_([r.id for r in rows])
            )
        )
    )
    items = [
        ScriptSummary.model_construct(
            id=r.id,
            name=r.name,
            type=r.type,
            created_at=r.created_at,
            updated_at=r.updated_at,
            author=authors[r.owner_id],
            state=job_state(runs.get(r.id)),
            finished_at=runs[r.id].finished_at if r.id in runs else None,
            projects=projects[r.id],
            parent_id=r.parent_id,
            is_template=r.id in templated,
            from_template_id=r.from_template_id,
            links=ScriptLinks.model_construct(
                details=f"/{_kind_of(r).path}/{r.id}", runs=f"/{_kind_of(r).path}/{r.id}/runs"
            ),
            time_zone=(r.config or {}).get("time_zone") or "UTC",
            last_run=run_brief(runs[r.id]) if r.id in runs else None,
            archived=archived_label(r.archived),
            template_script_id=None,
        )
        for r in rows
    ]
    return Page(items=items, total=total, params=page)


def list_custom_scripts(
    *,
    session: Session,
    actor: Actor,
    page: PageParams,
    from_template_id: str | None = None,
    author: str | None = None,
    status: str | None = None,
    hidden: bool | None = None,
    archived: str | None = None,
) -> Page[CustomScriptSummary]:
    conds: list[ColumnElement[bool]] = [
        JobRow.kind == "custom",
        visible_filter(actor, JOB),
        JobRow.hidden.is_(bool(hidden)),
    ]
    arch = archived_filter(JOB, archived)
    if arch is not None:
        conds.append(arch)
    if from_template_id:
        tids = id_list("from_template_id", from_template_id, "template ids")
        conds.append(JobRow.from_template_id.in_(tids))
    if author:
        conds.append(JobRow.owner_id.in_(id_list("author", author, "user ids")))
    if status:
        conds.append(_status_filter(status))
    total = session.scalar(select(func.count()).select_from(JobRow).where(*conds)) or 0
    rows = session.scalars(
        select(JobRow).where(*conds).order_by(*_ordered(page)).limit(page.limit).offset(page.offset)
    ).all()
    runs = last_runs(session, rows)
    authors = user_blocks(session, {r.owner_id for r in rows})
    projects = _projects(session, actor, [r.id for r in rows])
    backing: dict[int, str] = {}
    used = {r.from_template_id for r in rows if r.from_template_id}
    if used:
        for tid, kind in session.execute(
            select(ScriptTemplateRow.id, JobRow.kind)
            .join(JobRow, JobRow.id == ScriptTemplateRow.script_id)
            .where(ScriptTemplateRow.id.in_(used))
        ):
            backing[tid] = JOB_TYPES.get(kind, kind)
    items = [
        CustomScriptSummary.model_construct(
            id=r.id,
            name=r.name,
            type=r.type,
            backing_script_type=backing.get(r.from_template_id or 0, ""),
            created_at=r.created_at,
            updated_at=r.updated_at,
            author=authors[r.owner_id],
            state=job_state(runs.get(r.id)),
            finished_at=runs[r.id].finished_at if r.id in runs else None,
            projects=projects[r.id],
            parent_id=r.parent_id,
            from_template_id=r.from_template_id,
            time_zone=(r.config or {}).get("time_zone") or "UTC",
            last_run=run_brief(runs[r.id]) if r.id in runs else None,
            archived=archived_label(r.archived),
        )
        for r in rows
    ]
    return Page(items=items, total=total, params=page)

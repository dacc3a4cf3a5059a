"""What a run executes and with which environment: the script (or, for a custom script, its
template's backing script), and its parameters turned into environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from civica.db.models import CredentialRow, JobRow, ScriptTemplateRow
from civica.security import SecretBox
from civica.services.actor import Actor
from civica.services.errors import BadRequest, NotFound, ServiceError
from civica.services.kinds import KINDS
from civica.services.permissions import Level, level_of

CREDENTIAL_TYPES = ("credential_aws", "credential_redshift", "credential_custom")
TRUE = {"true", "t", "y", "yes", "1", "on"}
FALSE = {"false", "f", "n", "no", "0", "off"}


@dataclass
class Effective:
    """The script a run executes: its kind, its fields, its params and the arguments to use."""

    kind: str
    config: dict[str, Any]
    params: list[dict[str, Any]]
    arguments: dict[str, Any]


def effective_script(session: Session, job: JobRow) -> Effective:
    config = dict(job.config or {})
    if job.kind != "custom":
        return Effective(
            kind=job.kind,
            config=config,
            params=list(config.get("params") or []),
            arguments=dict(config.get("arguments") or {}),
        )
    template = session.get(ScriptTemplateRow, job.from_template_id or 0)
    if template is None:
        raise NotFound(f"the template {job.from_template_id} of custom script {job.id} is gone")
    backing = session.get(JobRow, template.script_id)
    if backing is None:
        raise NotFound(f"the script behind template {template.id} is gone")
    inner = effective_script(session, backing)
    resources = config.get("required_resources") or inner.config.get("required_resources")
    merged = {**inner.config, "required_resources": resources}
    return Effective(
        kind=inner.kind,
        config=merged,
        params=inner.params,
        arguments={**inner.arguments, **dict(config.get("arguments") or {})},
    )


@dataclass
class Environment:
    variables: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


def _text(value: Any, ptype: str) -> str:
    if ptype == "bool":
        lowered = str(value).strip().lower()
        if lowered in TRUE:
            return "true"
        if lowered in FALSE:
            return "false"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        import json

        return json.dumps(value)
    return str(value)


def parameter_environment(
    session: Session, secrets: SecretBox, owner: Actor, script: Effective
) -> Environment:
    """Each param as an upper-cased variable; credential params as NAME_USERNAME/NAME_PASSWORD.

    Raises BadRequest naming the param when a required argument is missing or a credential
    cannot be used by the script's owner.
    """
    env = Environment()
    for param in script.params:
        name = str(param.get("name") or "")
        ptype = str(param.get("type") or "string")
        if param.get("value") not in (None, ""):
            value = param["value"]
        elif name in script.arguments and script.arguments[name] not in (None, ""):
            value = script.arguments[name]
        else:
            value = param.get("default")
        if value in (None, ""):
            if param.get("required"):
                raise BadRequest(
                    f"the script's param {name!r} is required: set it in arguments before running"
                )
            continue
        upper = name.upper()
        if ptype in CREDENTIAL_TYPES:
            username, password = _credential(session, secrets, owner, name, value)
            env.variables[f"{upper}_USERNAME"] = username
            env.variables[f"{upper}_PASSWORD"] = password
            if password:
                env.secrets.append(password)
            continue
        env.variables[upper] = _text(value, ptype)
    return env


def _credential(
    session: Session, secrets: SecretBox, owner: Actor, name: str, value: Any
) -> tuple[str, str]:
    try:
        credential_id = int(value)
    except (TypeError, ValueError):
        raise BadRequest(
            f"argument {name!r} must be the id of a credential; got {value!r}"
        ) from None
    row = session.get(CredentialRow, credential_id)
    kind = KINDS.get("credential")
    if row is None or kind is None or level_of(session, owner, kind, row) < Level.READ:
        raise BadRequest(
            f"argument {name!r}: credential {credential_id} does not exist or the script's owner "
            "cannot use it; pick one of their credentials"
        )
    try:
        password = secrets.decrypt(row.password_encrypted)
    except Exception as exc:  # a rotated-away key: say so instead of a traceback
        raise ServiceError(f"credential {credential_id} cannot be decrypted: {exc}") from None
    return row.username, password

"""The shares dialog of any object kind in `civica.services.kinds.KINDS` (users and groups by
name; read, write or manage), over `civica.services.shares`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form
from fastapi.responses import Response
from sqlalchemy.orm import Session

from civica.services import shares as svc
from civica.services import users
from civica.services.actor import Actor
from civica.services.errors import BadRequest, NotFound
from civica.services.kinds import KINDS, ObjectKind
from civica.web.core import PageError, Web, page_router, shown_on_form, signed_in

router = page_router()
NAV = None
WebDep = Annotated[Web, Depends(signed_in)]
PRINCIPALS = ("user", "group")


def _kind(object_type: str) -> ObjectKind:
    kind = KINDS.get(object_type)
    if kind is None:
        raise PageError(404, f"there is no kind of object called {object_type!r}")
    return kind


def principal_ids(*, session: Session, actor: Actor, principal_type: str, names: str) -> list[int]:
    """The ids of the users or groups named (comma-separated)."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        raise BadRequest(f"name at least one {principal_type} to share with")
    ids = []
    for name in wanted:
        try:
            if principal_type == "user":
                ids.append(users.get_user_by_name(session=session, username=name).id)
            else:
                ids.append(users.get_group_by_name(session=session, name=name).id)
        except NotFound:
            raise BadRequest(f"there is no {principal_type} called {name!r}") from None
    return ids


def _dialog(web: Web, kind: ObjectKind, object_id: int, error: str | None = None) -> Response:
    shares = web.call(svc.list_shares, kind=kind, object_id=object_id)
    return web.render(
        "shares/_dialog.html", kind=kind, object_id=object_id, shares=shares, error=error
    )


@router.get("/shares/{object_type}/{object_id}")
def show_shares(object_type: str, object_id: int, web: WebDep) -> Response:
    return _dialog(web, _kind(object_type), object_id)


@router.post("/shares/{object_type}/{object_id}")
def share(
    object_type: str,
    object_id: int,
    web: WebDep,
    principal_type: Annotated[str, Form()] = "user",
    names: Annotated[str, Form()] = "",
    permission_level: Annotated[str, Form()] = "read",
) -> Response:
    kind = _kind(object_type)
    if principal_type not in PRINCIPALS:
        raise PageError(400, "principal_type must be user or group")
    try:
        ids = web.call(principal_ids, principal_type=principal_type, names=names)
        web.call(
            svc.put_shares,
            kind=kind,
            object_id=object_id,
            principal_type=principal_type,
            principal_ids=ids,
            permission_level=permission_level,
        )
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _dialog(web, kind, object_id, exc.description)
    return _dialog(web, kind, object_id)


@router.post("/shares/{object_type}/{object_id}/remove")
def unshare(
    object_type: str,
    object_id: int,
    web: WebDep,
    principal_type: Annotated[str, Form()],
    principal_id: Annotated[int, Form()],
) -> Response:
    kind = _kind(object_type)
    if principal_type not in PRINCIPALS:
        raise PageError(400, "principal_type must be user or group")
    try:
        web.call(
            svc.delete_share,
            kind=kind,
            object_id=object_id,
            principal_type=principal_type,
            principal_id=principal_id,
        )
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        return _dialog(web, kind, object_id, exc.description)
    return _dialog(web, kind, object_id)

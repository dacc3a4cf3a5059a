"""Credentials: the ones you can see and a form to add one. The secret is written once and
never shown (the service's responses do not carry it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form
from fastapi.responses import Response

from civica.schemas.credentials import CREDENTIAL_TYPES, CredentialCreate
from civica.services import credentials as svc
from civica.services import databases
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
NAV = ("Credentials", f"{PREFIX}/credentials")
WebDep = Annotated[Web, Depends(signed_in)]
object_page("credential", PREFIX + "/credentials#credential-{id}")


def _list(
    web: Web, error: str | None = None, status: int = 200, values: dict[str, Any] | None = None
) -> Response:
    found = web.call(svc.list_credentials, page=web.list_page())
    return web.render(
        "credentials/list.html",
        status_code=status,
        credentials=found.items,
        pager=web.pager(total=found.total),
        databases=web.call(databases.list_databases),
        types=CREDENTIAL_TYPES,
        error=error,
        values=values or {},
    )


@router.get("/credentials")
def list_credentials(web: WebDep) -> Response:
    return _list(web)


@router.post("/credentials")
def create_credential(
    web: WebDep,
    type: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    database: Annotated[str, Form()] = "",
) -> Response:
    data: dict[str, Any] = {
        "type": type,
        "username": username,
        "password": password,
        "name": name.strip() or None,
        "description": description or None,
        "remote_host_id": database or None,
    }
    try:
        body = web.build(CredentialCreate, {k: v for k, v in data.items() if v is not None})
        web.call(svc.create_credential, body=body)
    except PageError as exc:
        if not shown_on_form(exc):
            raise
        # Everything comes back but the password.
        kept = {"type": type, "name": name, "username": username, "description": description}
        return _list(web, exc.description, exc.status_code, kept)
    return web.redirect(f"{PREFIX}/credentials")

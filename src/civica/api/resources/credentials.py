"""`/credentials`: thin routes over civica.services.credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from civica.api.deps import CtxDep
from civica.api.routing import CivicaRoute, inline
from civica.api.wire import PageParams, pagination
from civica.schemas.credentials import (
    CREDENTIAL_TYPES,
    Credential,
    CredentialAuthenticate,
    CredentialCreate,
    CredentialUpdate,
    TemporaryCredential,
    TemporaryCredentialCreate,
)
from civica.services import credentials as svc

router = APIRouter(tags=["credentials"], route_class=CivicaRoute)
Paging = Annotated[PageParams, Depends(pagination(svc.ORDERS, default_limit=1000, max_limit=1000))]


@router.get("/credentials", summary="List credentials")
@inline
def list_credentials(
    ctx: CtxDep,
    response: Response,
    page: Paging,
    type: str | None = Query(
        None,
        description="The type (or types) of credentials to return. One or more of: "
        + ", ".join(CREDENTIAL_TYPES)
        + '. Specify multiple values as a comma-separated list (e.g., "A,B").',
    ),
    default: bool | None = Query(
        None,
        description="If true, will return a list with a single credential which is the current "
        "user's default credential.",
    ),
    remote_host_id: int | None = Query(
        None,
        description="The ID of the remote host associated with the credentials to return.",
    ),
) -> list[Credential]:
    result = ctx.call(
        svc.list_credentials,
        page=page,
        type=type,
        default=default,
        remote_host_id=remote_host_id,
    )
    return result.respond(response)


@router.post("/credentials", summary="Create or update a credential")
def post_credential(body: CredentialCreate, ctx: CtxDep) -> Credential:
    return ctx.call(svc.create_credential, body=body)


@router.post("/credentials/authenticate", summary="Authenticate against a remote host")
def post_authenticate(body: CredentialAuthenticate, ctx: CtxDep) -> Credential:
    return ctx.call(svc.authenticate_credential, body=body)


@router.get("/credentials/{id}", summary="Get a credential")
@inline
def get_credential(id: int, ctx: CtxDep) -> Credential:
    return ctx.call(svc.get_credential, credential_id=id)


@router.put("/credentials/{id}", summary="Update an existing credential")
def put_credential(id: int, body: CredentialUpdate, ctx: CtxDep) -> Credential:
    return ctx.call(svc.update_credential, credential_id=id, body=body)


@router.post(
    "/credentials/{id}/temporary", summary="Generate a temporary credential for accessing S3"
)
def post_temporary(
    id: int, ctx: CtxDep, body: TemporaryCredentialCreate | None = None
) -> TemporaryCredential:
    return ctx.call(svc.create_temporary_credential, credential_id=id, body=body)

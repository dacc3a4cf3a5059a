"""Credentials: logins for databases and other services, kept encrypted and never returned."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civica.schemas.common import In, NestedIn, Out, UserBlock
from civica.schemas.databases import REMOTE_HOST_TYPE_DOC

CREDENTIAL_TYPES = (
    "Amazon Web Services S3",
    "BSD::API",
    "CASS/NCOA PAF",
    "Catalist::API",
    "Catalist::SFTP",
    "Certificate",
    "Civis Platform",
    "Custom",
    "Database",
    "Google",
    "Github",
    "JobTraits::Ftp",
    "Salesforce User",
    "Salesforce Client",
    "Silverpop Application",
    "Silverpop Refresh Token",
    "Silverpop User",
    "TableauUser",
    "VAN::MyVoterFile",
    "VAN::MyCampaign",
    "VAN::BothModes",
)
TYPE_DOC = "The type of credential. One of: " + ", ".join(CREDENTIAL_TYPES) + "."
DEFAULT_DOC = (
    "Whether or not the credential is the owner's default. Only for Database credentials; "
    "making one the default stops the previous default from being it."
)


class RemoteHostIn(NestedIn):
    name: str = Field(
        description="The human readable name for the remote host.", min_length=1, max_length=255
    )
    url: str = Field(description="The URL to your host.", min_length=1, max_length=4096)
    type: str = Field(description=REMOTE_HOST_TYPE_DOC)


class CredentialCreate(In):
    type: str = Field(description=TYPE_DOC)
    username: str = Field(
        description="The username for the credential.", min_length=1, max_length=255
    )
    password: str = Field(description="The password for the credential.", max_length=10_000)
    name: str | None = Field(
        default=None,
        description="The name identifying the credential. Defaults to the username.",
        min_length=1,
        max_length=255,
    )
    description: str | None = Field(
        default=None, description="A long description of the credential.", max_length=100_000
    )
    remote_host_id: int | None = Field(
        default=None, description="The ID of the remote host associated with the credential."
    )
    remote_host: RemoteHostIn | None = Field(
        default=None,
        description="The remote host associated with the credential, by name and URL: an "
        "existing database of that name is used; admins may register a new one this way.",
    )
    default: bool | None = Field(default=None, description=DEFAULT_DOC)
    user_id: int | None = Field(
        default=None,
        description="The ID of the user the credential is created for. Note: This attribute is "
        "only accepted if you are an admin.",
    )


class CredentialUpdate(In):
    type: str = Field(description=TYPE_DOC)
    username: str = Field(
        description="The username for the credential.", min_length=1, max_length=255
    )
    password: str = Field(description="The password for the credential.", max_length=10_000)
    name: str | None = Field(
        default=None,
        description="The name identifying the credential.",
        min_length=1,
        max_length=255,
    )
    description: str | None = Field(
        default=None, description="A long description of the credential.", max_length=100_000
    )
    remote_host_id: int | None = Field(
        default=None, description="The ID of the remote host associated with the credential."
    )
    remote_host: RemoteHostIn | None = Field(
        default=None,
        description="The remote host associated with the credential, by name and URL: an "
        "existing database of that name is used; admins may register a new one this way.",
    )
    default: bool | None = Field(default=None, description=DEFAULT_DOC)


class CredentialAuthenticate(In):
    url: str = Field(
        description="The URL to your host: a database URL such as postgresql://host:5432/db or "
        "jdbc:postgresql://host:5432/db.",
        min_length=1,
        max_length=4096,
    )
    remote_host_type: str = Field(description=REMOTE_HOST_TYPE_DOC)
    username: str = Field(
        description="The username for the credential.", min_length=1, max_length=255
    )
    password: str = Field(description="The password for the credential.", max_length=10_000)


class TemporaryCredentialCreate(In):
    duration: int | None = Field(
        default=None,
        description="The number of seconds the temporary credential should be valid. Defaults "
        "to 15 minutes. Must not be less than 15 minutes or greater than 36 hours.",
    )


class Credential(Out):
    id: int = Field(description="The ID of the credential.")
    name: str = Field(description="The name identifying the credential")
    type: str = Field(description="The credential's type.")
    username: str = Field(description="The username for the credential.")
    description: str | None = Field(description="A long description of the credential.")
    owner: str = Field(description="The username of the user who this credential belongs to.")
    user: UserBlock = Field(description="The user who this credential belongs to.")
    remote_host_id: int | None = Field(
        description="The ID of the remote host associated with this credential."
    )
    remote_host_name: str | None = Field(
        description="The name of the remote host associated with this credential."
    )
    created_at: datetime = Field(description="The creation time for this credential.")
    updated_at: datetime = Field(description="The last modification time for this credential.")
    default: bool = Field(
        description="Whether or not the credential is a default. Only for Database credentials."
    )


class TemporaryCredential(Out):
    access_key: str = Field(description="The identifier of the credential.")
    secret_access_key: str = Field(description="The secret part of the credential.")
    session_token: str = Field(description="The session token identifier.")
    expires_at: datetime = Field(description="When the temporary credential stops working.")

"""Databases (remote hosts): their descriptions, schemas and whitelisted addresses."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civica.schemas.common import In, Out, UserBlock

REMOTE_HOST_TYPE_DOC = (
    "The type of remote host. One of: RemoteHostTypes::Postgres, RemoteHostTypes::Redshift, "
    "RemoteHostTypes::JDBC, RemoteHostTypes::DuckDB, RemoteHostTypes::SQLite (database hosts "
    "civica connects to), or RemoteHostTypes::BSD, RemoteHostTypes::Ftp, RemoteHostTypes::Github, "
    "RemoteHostTypes::GoogleDoc, RemoteHostTypes::Salesforce, RemoteHostTypes::Van, "
    "RemoteHostTypes::Bigquery, RemoteHostTypes::Bitbucket, RemoteHostTypes::GitSSH, "
    "RemoteHostTypes::S3Storage"
)


class Database(Out):
    id: int = Field(description="The ID for the database.")
    name: str = Field(description="The name of the database in Platform.")
    adapter: str = Field(
        description="The type of the database: the SQLAlchemy backend, e.g. postgresql or duckdb."
    )
    cluster_identifier: str | None = Field(
        default=None, description="The cluster identifier of the database."
    )
    host: str | None = Field(default=None, description="The host of the database server.")
    port: int | None = Field(default=None, description="The port of the database.")
    database_name: str | None = Field(
        default=None, description="The internal name of the database."
    )
    managed: bool = Field(
        description="True if the database is managed by this platform (the embedded warehouse). "
        "False otherwise."
    )


class DatabaseSchema(Out):
    schema_: str = Field(alias="schema", description="The name of a schema.")


class WhitelistIpCreate(In):
    subnet_mask: str = Field(
        description="The subnet mask that is allowed by this rule: an IP address (10.1.2.3) or a "
        "CIDR block (10.0.0.0/8, 2001:db8::/32).",
        min_length=1,
        max_length=64,
    )


class WhitelistIpSummary(Out):
    id: int = Field(description="The ID of this whitelisted IP address.")
    remote_host_id: int = Field(description="The ID of the database this rule is applied to.")
    security_group_id: str = Field(
        description="The ID of the security group this rule is applied to."
    )
    subnet_mask: str = Field(description="The subnet mask that is allowed by this rule.")
    created_at: datetime = Field(description="The time this rule was created.")
    updated_at: datetime = Field(description="The time this rule was last updated.")


class WhitelistIp(WhitelistIpSummary):
    authorized_by: str = Field(description="The user who authorized this rule.")
    is_active: bool = Field(
        description="True if the rule is applied, false if it has been revoked."
    )


class RemoteHostCreate(In):
    name: str = Field(
        description="The human readable name for the remote host.", min_length=1, max_length=255
    )
    url: str = Field(
        description="The URL for the remote host: a SQLAlchemy URL such as "
        "postgresql://user:password@host:5432/db (jdbc:postgresql://host:5432/db is accepted too).",
        min_length=1,
        max_length=4096,
    )
    type: str = Field(description=REMOTE_HOST_TYPE_DOC)
    description: str | None = Field(
        default=None, description="The description of the remote host.", max_length=100_000
    )


class RemoteHostSummary(Out):
    id: int = Field(description="The ID of the remote host.")
    name: str = Field(description="The human readable name for the remote host.")
    type: str = Field(description=REMOTE_HOST_TYPE_DOC)
    url: str = Field(description="The URL for the remote host, with any password masked.")


class RemoteHost(RemoteHostSummary):
    description: str | None = Field(description="The description of the remote host.")
    my_permission_level: str = Field(
        description='Your permission level on the object. One of "read", "write", or "manage".'
    )
    user: UserBlock = Field(description="The owner of the remote host.")
    created_at: datetime
    updated_at: datetime

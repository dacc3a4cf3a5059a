"""ORM rows for the metadata store. Every shareable object uses ObjectMixin."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from civica.db.base import Base, IdType, ObjectMixin, TimestampMixin, UTCDateTime, utcnow


class UserRow(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    email: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", nullable=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GroupRow(TimestampMixin, Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)


class GroupMemberRow(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    # sha256 of the key: keys are 256-bit random, so a fast hash is enough and lookups stay O(1).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShareRow(Base):
    """One grant of read (1), write (2) or manage (3) on one object to one user or group."""

    __tablename__ = "shares"
    __table_args__ = (
        UniqueConstraint("object_type", "object_id", "principal_type", "principal_id"),
        Index("ix_shares_principal", "object_type", "principal_type", "principal_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    object_type: Mapped[str] = mapped_column(String(64), nullable=False)
    object_id: Mapped[int] = mapped_column(IdType, nullable=False)
    principal_type: Mapped[str] = mapped_column(String(8), nullable=False)  # "user" | "group"
    principal_id: Mapped[int] = mapped_column(IdType, nullable=False)
    level: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ProjectRow(ObjectMixin, Base):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    note: Mapped[str | None] = mapped_column(Text)
    auto_share: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class ProjectObjectRow(Base):
    """Membership of one object in one project."""

    __tablename__ = "project_objects"
    __table_args__ = (Index("ix_project_objects_object", "object_type", "object_id"),)

    project_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    object_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    object_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class RemoteHostRow(ObjectMixin, Base):
    """A database (remote host): a SQLAlchemy URL, stored encrypted since it may hold a password."""

    __tablename__ = "remote_hosts"

    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    url_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    is_embedded: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class WhitelistIpRow(TimestampMixin, Base):
    __tablename__ = "whitelist_ips"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    remote_host_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("remote_hosts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    subnet_mask: Mapped[str] = mapped_column(String(64), nullable=False)
    security_group_id: Mapped[str] = mapped_column(String(64), nullable=False)
    authorized_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id"), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)


class CredentialRow(ObjectMixin, Base):
    __tablename__ = "credentials"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    username: Mapped[str] = mapped_column(String(255), nullable=False)
    password_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    remote_host_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("remote_hosts.id", ondelete="SET NULL"), index=True
    )
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class TemporaryCredentialRow(Base):
    """A short-lived key pair derived from a credential, scoped to the file store."""

    __tablename__ = "temporary_credentials"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    credential_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("credentials.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id"), nullable=False)
    access_key: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    session_token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scope: Mapped[str] = mapped_column(String(64), nullable=False, default="files")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

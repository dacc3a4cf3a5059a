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


class FileRow(ObjectMixin, Base):
    """A file: its metadata here, its bytes in the object store under `storage_key`.

    `state` goes pending → uploaded (bytes complete and checked), or → failed; and → expired once
    `expires_at` passed and the sweep removed the bytes. Only uploaded files can be read.
    """

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_state_expires_at", "state", "expires_at"),)

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    store: Mapped[str] = mapped_column(String(16), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    size: Mapped[int | None] = mapped_column(IdType)
    checksum: Mapped[str | None] = mapped_column(String(128))
    checksum_algorithm: Mapped[str | None] = mapped_column(String(32))
    # Multipart uploads: the store's upload id and the number of parts announced.
    multipart_upload_id: Mapped[str | None] = mapped_column(String(1024))
    num_parts: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # JSON of what /files/preprocess/csv detected (includeHeader, columnDelimiter, ...).
    detected_info: Mapped[str | None] = mapped_column(Text)


# --- Execution: one table for every runnable object, one for their runs (docs/execution.md). ---

from typing import Any  # noqa: E402

from sqlalchemy import JSON  # noqa: E402


class JobRow(ObjectMixin, Base):
    """Anything that runs: scripts of each type now, imports, model builds and more later.

    One table gives `/jobs/{id}` one id space across kinds. `kind` says which kind a row is (a
    subclass per kind maps it, so `session.get(PythonScriptRow, id)` finds only Python scripts);
    `type` is the job type the API shows (`JobTypes::PythonDocker`); `config` holds the fields
    only that kind has (source, params, required_resources, docker_command, ...).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_kind_updated_at", "kind", "updated_at"),
        Index("ix_jobs_next_run_at", "next_run_at"),
    )
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_abstract": True}

    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    parent_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    from_template_id: Mapped[int | None] = mapped_column(IdType, index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # Newest run, kept here so lists show a job's state without a query per job.
    last_run_id: Mapped[int | None] = mapped_column(IdType)
    trigger_email: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The request's schedule block is kept in config["schedule"]; this is its next slot (UTC),
    # kept by civica.services.schedules.apply_schedule, so the scheduler finds due jobs by index.
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PythonScriptRow(JobRow):
    __mapper_args__ = {"polymorphic_identity": "python3"}


class RScriptRow(JobRow):
    __mapper_args__ = {"polymorphic_identity": "r"}


class JavaScriptScriptRow(JobRow):
    __mapper_args__ = {"polymorphic_identity": "javascript"}


class ContainerScriptRow(JobRow):
    __mapper_args__ = {"polymorphic_identity": "container"}


class CustomScriptRow(ContainerScriptRow):
    """A script made from a template. A subclass of containers because the public client reaches
    custom scripts through `/scripts/containers/{id}` (its runs, shares and details)."""

    __mapper_args__ = {"polymorphic_identity": "custom"}


class RunRow(Base):
    """One run of a job: queued → running → succeeded | failed | cancelled (never anything else).

    `error` is always set when failed. Workers claim queued runs, beat `heartbeat_at` while they
    run them, and a run whose heartbeat stops is failed by any other worker.
    """

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_state_id", "state", "id"),
        Index("ix_runs_job_id_id", "job_id", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
    )
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    error: Mapped[str | None] = mapped_column(Text)
    is_cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    triggered_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id"))
    # What the run asked for when queued (CPU shares, 1024 a core; memory in MiB): admission.
    cpu: Mapped[int] = mapped_column(Integer, nullable=False, default=1024)
    memory: Mapped[int] = mapped_column(Integer, nullable=False, default=1024)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker_id: Mapped[str | None] = mapped_column(String(128), index=True)
    # The run's own API key (revoked when the run ends), and peak memory seen, in MiB.
    api_key_id: Mapped[int | None] = mapped_column(IdType)
    max_memory_usage: Mapped[int | None] = mapped_column(Integer)


class RunLogRow(Base):
    __tablename__ = "run_logs"
    __table_args__ = (Index("ix_run_logs_run_id_id", "run_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    level: Mapped[str] = mapped_column(String(8), nullable=False, default="info")
    message: Mapped[str] = mapped_column(Text, nullable=False)


class RunOutputRow(Base):
    """An object a run produced (a File, Table, Report, Project or JSONValue)."""

    __tablename__ = "run_outputs"
    __table_args__ = (UniqueConstraint("run_id", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    object_type: Mapped[str] = mapped_column(String(32), nullable=False)
    object_id: Mapped[int] = mapped_column(IdType, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class JsonValueRow(ObjectMixin, Base):
    __tablename__ = "json_values"

    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    value: Mapped[Any] = mapped_column(JSON, nullable=True)


class ScriptTemplateRow(ObjectMixin, Base):
    """A script published as a template: custom scripts run its code with their own arguments."""

    __tablename__ = "script_templates"

    script_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("jobs.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    ui_report_id: Mapped[int | None] = mapped_column(IdType)
    tech_reviewed: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


# --- SQL: queries and SQL scripts are jobs too (docs/sql.md); no columns of their own. ---


class SqlScriptRow(JobRow):
    """A SQL script: `sql`, `remote_host_id`, `credential_id`, `csv_settings` in config."""

    __mapper_args__ = {"polymorphic_identity": "sql"}


class QueryRow(JobRow):
    """A query (`/queries`): its SQL, database, credential, preview size and CSV options, and
    the preview of its newest finished run (`result`), in config."""

    __mapper_args__ = {"polymorphic_identity": "query"}


class WarehouseTableRow(TimestampMixin, Base):
    """A table or view seen in a database, so it has a stable id (`/tables`, the public client's
    `get_table_id`). Rows are made when a table is first looked up; the table itself lives in
    the database, and its columns are read from there each time."""

    __tablename__ = "warehouse_tables"
    __table_args__ = (UniqueConstraint("remote_host_id", "schema_name", "table_name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    remote_host_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("remote_hosts.id", ondelete="CASCADE"), nullable=False
    )
    schema_name: Mapped[str] = mapped_column(String(255), nullable=False)
    table_name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)


class ImportRow(JobRow):
    """An import (`/imports`): a Dbsync between two databases; its source, destination and
    syncs are in config."""

    __mapper_args__ = {"polymorphic_identity": "import"}


# --- Models and predictions: jobs too (docs/models.md); settings in config. ---


class ModelRow(JobRow):
    """A model (`/models`): training table, dependent variable, model type, folds and grid in
    config; each build is a run of this job."""

    __mapper_args__ = {"polymorphic_identity": "model"}


class PredictionRow(JobRow):
    """A prediction (`/predictions`): the model, the table to score, its primary key and the
    output table in config; each scoring is a run of this job."""

    __mapper_args__ = {"polymorphic_identity": "prediction"}


class ModelRunResultRow(Base):
    """What one build or prediction run produced: the fitted estimator file and metrics (a
    build), or the output table and score statistics (a prediction run)."""

    __tablename__ = "model_run_results"

    run_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    job_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    file_id: Mapped[int | None] = mapped_column(IdType)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class DeliveryRow(Base):
    """One notification to send (an e-mail or a webhook POST), sent off the run's path by the
    scheduler's delivery loop: `pending` → `sent` | `failed`, retried with back-off meanwhile.

    `dedupe_key` (e.g. `run:7:success:email`) makes each notification of a run exactly one row.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)  # email | webhook
    event: Mapped[str] = mapped_column(String(32), nullable=False)  # success | failure | stall ...
    job_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("runs.id", ondelete="SET NULL"), index=True
    )
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    target: Mapped[str] = mapped_column(Text, nullable=False, default="")  # URL or recipients
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Reports (docs/reports.md): HTML from code_body or a job's output file; snapshots are jobs. ---


class ReportRow(ObjectMixin, Base):
    """A report: HTML written by the user (`code_body`), a report template's code
    (`template_id`), or the newest HTML output file of a job's latest successful run
    (`script_id`). `api_key_encrypted` is the key granted to the report (POST .../grants),
    encrypted with the platform's secrets; `api_key_id` names it for revocation and audit."""

    __tablename__ = "reports"

    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    description: Mapped[str | None] = mapped_column(Text)
    code_body: Mapped[str | None] = mapped_column(Text)
    script_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    template_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("reports.id", ondelete="SET NULL"), index=True
    )
    app_state: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    config: Mapped[str | None] = mapped_column(Text)
    provide_api_key: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    api_key_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    api_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # When code_body or template_id last changed (script-backed reports use their run's end).
    viz_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    snapshot_job_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("jobs.id", ondelete="SET NULL")
    )


class ReportSnapshotRow(JobRow):
    """A report's snapshot automation (`/reports/{id}/snapshots`): `report_id`, width, height,
    recipients, subject, e-mail template and `schedule` in config. Each run renders the report
    in headless Chromium and keeps the PNG as a File output (civica.reports.snapshots)."""

    __mapper_args__ = {"polymorphic_identity": "report_snapshot"}


class AuditEventRow(Base):
    """One state-changing API call: who, what (method, route, object), when, and the outcome.

    Written after the response by the audit middleware (civica.api.audit); read by admins at
    `/audit`. Users are kept by id and name so the trail outlives a renamed or deleted user.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
    user_id: Mapped[int | None] = mapped_column(IdType, index=True)
    username: Mapped[str | None] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    # The route's template (`/scripts/python3/{id}/runs`) and the path actually called.
    route: Mapped[str] = mapped_column(String(255), nullable=False)
    path: Mapped[str] = mapped_column(String(1024), nullable=False)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[int | None] = mapped_column(IdType)
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    client_ip: Mapped[str | None] = mapped_column(String(64))


# --- File imports (docs/imports.md): jobs too, their settings in config. ---


class BatchImportRow(JobRow):
    """A batch import (`/imports/batches`): many files of one format into one table."""

    __mapper_args__ = {"polymorphic_identity": "batch_import"}


class CsvImportRow(JobRow):
    """A CSV import (`/imports/files/csv`): files into a table with given or detected columns."""

    __mapper_args__ = {"polymorphic_identity": "csv_import"}


class PreprocessCsvRow(JobRow):
    """A CSV preprocess job (`/files/preprocess/csv`): detects a file's format into its
    `detectedInfo`, and makes a UTF-8 copy of it."""

    __mapper_args__ = {"polymorphic_identity": "preprocess_csv"}

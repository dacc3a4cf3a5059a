"""One Settings object, read from `CIVICA_*` environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything civica can be configured with; `civica serve --data-dir DIR` needs no more."""

    model_config = SettingsConfigDict(env_prefix="CIVICA_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="Folder for all local state.")
    database_url: str | None = Field(
        default=None, description="Metadata database URL; SQLite in the data folder when unset."
    )
    secret_key: str | None = Field(
        default=None,
        description="Fernet key for secrets at rest; a key file in the data folder when unset.",
    )
    admin_api_key: str | None = Field(
        default=None, description="API key given to the first admin user (for automation)."
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL clients reach this server at, e.g. https://civica.example.",
    )
    max_body_bytes: int = Field(default=16 * 1024 * 1024, description="Largest JSON body accepted.")
    auth_cache_seconds: float = Field(
        default=2.0,
        description="How long a verified API key is trusted before it is checked again.",
    )
    rate_limit_per_minute: int = Field(
        default=6000,
        description="Requests each API key may make per minute in each server process, with "
        "bursts of up to a tenth of that at once; beyond it a 429 with Retry-After (0: no limit).",
    )
    # Files (docs/files.md).
    storage_url: str | None = Field(
        default=None,
        description="Where file contents are kept: unset for a folder in the data folder, "
        "file:///path for another folder, or s3://bucket/prefix?endpoint=URL&region=NAME for "
        "any S3-compatible store.",
    )
    storage_access_key_id: str | None = Field(
        default=None,
        description="Access key id for an s3:// store; boto3's usual sources when unset.",
    )
    storage_secret_access_key: str | None = Field(
        default=None, description="Secret access key for an s3:// store."
    )
    max_upload_bytes: int = Field(
        default=50 * 1024**3, description="Largest file accepted by an upload, in bytes."
    )
    upload_url_seconds: int = Field(
        default=12 * 3600, description="How long upload URLs stay valid, in seconds."
    )
    download_url_seconds: int = Field(
        default=30 * 60,
        description="How long download URLs stay valid unless the caller asks for another time.",
    )
    file_sweep_seconds: float = Field(
        default=600.0,
        description="Interval of the background sweep that removes expired files' contents "
        "(0 turns it off).",
    )
    # Execution (docs/execution.md).
    workers: int = Field(
        default=1,
        description="How many workers `civica serve` runs in its own process (0: none; run "
        "`civica worker` processes instead). Each runs as many runs at once as its slots allow.",
    )
    executor: str = Field(
        default="local",
        description="Where runs execute: `local` (subprocesses on this machine) or `ray` (tasks "
        "on the Ray cluster at CIVICA_RAY_ADDRESS; needs `civica[ray]`).",
    )
    ray_address: str | None = Field(
        default=None,
        description="Address of the Ray cluster CIVICA_EXECUTOR=ray sends runs to, e.g. "
        "10.0.0.5:6379 (its head node's GCS port), or `auto` on a node of the cluster.",
    )
    worker_cpus: float | None = Field(
        default=None,
        description="CPU cores a worker may hand out to runs (1024 shares a core); all of this "
        "machine's cores when unset.",
    )
    worker_memory_mb: int | None = Field(
        default=None,
        description="Memory a worker may hand out to runs, in MiB; this machine's memory when "
        "unset.",
    )
    worker_poll_seconds: float = Field(
        default=1.0,
        description="How often an idle worker looks for queued runs (runs queued by the same "
        "process wake it at once).",
    )
    heartbeat_seconds: float = Field(
        default=5.0, description="How often a worker records that its runs are still alive."
    )
    heartbeat_timeout_seconds: float = Field(
        default=60.0,
        description="A running run whose worker has not beaten for this long is failed.",
    )
    max_run_seconds: float = Field(
        default=0.0,
        description="Longest a run may take before it is stopped and failed (0: no limit).",
    )
    default_cancel_timeout: int = Field(
        default=10,
        description="Seconds between SIGTERM and SIGKILL when a run is cancelled, unless the "
        "job sets cancel_timeout.",
    )
    keep_run_folders: bool = Field(
        default=False, description="Keep each run's working folder after it ends (for debugging)."
    )
    trigger_email_domain: str = Field(
        default="civica.invalid",
        description="Domain of the addresses `POST /jobs/{id}/trigger_email` hands out.",
    )
    # Schedules, chains and notifications (docs/schedules.md).
    scheduler: bool = Field(
        default=True,
        description="Run the scheduler loop in this process (one leader across processes starts "
        "scheduled runs and sends notifications).",
    )
    scheduler_poll_seconds: float = Field(
        default=5.0,
        description="Longest the scheduler sleeps between looks for due schedules, stalled runs "
        "and notifications (it also wakes at the next due time).",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server notification e-mails are sent through."
    )
    smtp_port: int = Field(default=25, description="Port of the SMTP server.")
    smtp_username: str | None = Field(default=None, description="SMTP login, if it needs one.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_security: str = Field(
        default="none",
        description="`none`, `starttls` (upgrade a plain connection) or `ssl` (implicit TLS).",
    )
    smtp_from: str = Field(
        default="civica@localhost", description="Sender address of notification e-mails."
    )
    smtp_timeout_seconds: float = Field(
        default=15.0, description="Give up on one SMTP or webhook attempt after this long."
    )
    delivery_retry_seconds: float = Field(
        default=30.0,
        description="Wait before the first retry of a failed notification; doubles each time.",
    )
    delivery_max_attempts: int = Field(
        default=8, description="A notification still failing after this many attempts is dropped."
    )
    trigger_smtp: bool = Field(
        default=False,
        description="Listen for SMTP mail to jobs' trigger addresses; each mail starts a run.",
    )
    trigger_smtp_host: str = Field(
        default="127.0.0.1", description="Address the trigger-mail SMTP listener binds to."
    )
    trigger_smtp_port: int = Field(
        default=2525, description="Port of the trigger-mail SMTP listener."
    )

    @cached_property
    def metadata_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'civica.db').resolve()}"

    @cached_property
    def warehouse_path(self) -> Path:
        return (self.data_dir / "warehouse.duckdb").resolve()

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

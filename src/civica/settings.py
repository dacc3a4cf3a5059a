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
        default="local", description="Where runs execute: `local` (subprocesses on this machine)."
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

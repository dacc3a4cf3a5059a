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

"""Harvest's settings: one validated object built from app settings (environment variables).

In Azure these are the Function App's application settings; locally ``local.settings.json`` supplies
them (the local host and the CLI load its ``Values`` into the environment, real environment variables
taking precedence). Every Harvest setting is prefixed ``HARVEST_``; storage also honours the
Functions host's own ``AzureWebJobsStorage``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HARVEST_", extra="ignore", populate_by_name=True)

    storage_connection: str | None = Field(
        default=None,
        validation_alias=AliasChoices("HARVEST_STORAGE_CONNECTION", "AzureWebJobsStorage"),
        description="Blob connection string (Azurite locally). Unused when storage_account_url is set.",
    )
    storage_account_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("HARVEST_STORAGE_ACCOUNT_URL", "AzureWebJobsStorage__blobServiceUri"),
        description="https://<account>.blob.core.windows.net — uses managed identity (DefaultAzureCredential).",
    )
    container: str = Field(default="harvest", min_length=3, max_length=63, pattern=r"^[a-z0-9](-?[a-z0-9])+$")
    manifest: str = Field(default="sources.yaml", description="Path of the source manifest.")
    schedule: str = Field(default="0 0 2 * * *", description="NCRONTAB of the daily run (UTC).")
    embedder: Literal["e5-small", "hashing"] = "e5-small"
    chunk_tokens: int = Field(default=256, ge=32, le=8191)
    chunk_overlap: int = Field(default=32, ge=0)
    batch_size: int = Field(default=16, ge=1, le=500)
    max_parallel_sources: int = Field(default=4, ge=1, le=64)
    pages_per_execution: int = Field(default=20, ge=1, le=10_000)
    failure_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    allowed_private_networks: str = Field(
        default="", description="Comma-separated CIDRs outbound fetches may reach (none by default)."
    )
    http_timeout: float = Field(default=30.0, gt=0)
    http_concurrency: int = Field(default=8, ge=1, le=256)
    max_body_bytes: int = Field(default=20_000_000, ge=1024)
    user_agent: str = "Harvest/0.1 (+https://github.com/harvest-ingest/harvest)"
    log_level: str = "INFO"

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info) -> int:  # type: ignore[no-untyped-def]
        size = info.data.get("chunk_tokens")
        if size is not None and v >= size:
            raise ValueError(f"must be smaller than chunk_tokens ({size})")
        return v

    def manifest_path(self) -> Path:
        path = Path(self.manifest)
        return path if path.is_absolute() else REPO_ROOT / path

    def allowed_networks(self) -> list[str]:
        return [part.strip() for part in self.allowed_private_networks.split(",") if part.strip()]


def load_settings() -> Settings:
    """Build and validate settings from the environment, raising ``ConfigError`` naming each bad field."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = [
            {"field": "HARVEST_" + ".".join(str(p) for p in err["loc"]).upper(), "message": err["msg"]}
            for err in exc.errors()
        ]
        raise ConfigError("invalid settings", problems) from None
    if not settings.storage_connection and not settings.storage_account_url:
        raise ConfigError(
            "invalid settings",
            [{"field": "AzureWebJobsStorage", "message": "set a connection string or HARVEST_STORAGE_ACCOUNT_URL"}],
        )
    return settings


@functools.cache
def get_settings() -> Settings:
    """Process-wide settings (activities call this; orchestrators never do)."""
    return load_settings()

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

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.config.messages import field_problems
from shared.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTIFY_STATUSES = ("completed", "partial", "failed", "cancelled")


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
    embedder: Literal["e5-small", "hashing", "azure-openai"] = "e5-small"
    # Azure OpenAI (HARVEST_EMBEDDER=azure-openai); see shared/embedding/azure_openai.py and docs/deploy.md.
    azure_openai_endpoint: str | None = Field(default=None, pattern=r"^https?://\S+$",
                                              description="https://<account>.openai.azure.com")
    azure_openai_deployment: str | None = Field(default=None, min_length=1, max_length=64)
    azure_openai_model: Literal["text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"] = (
        "text-embedding-3-small"
    )
    azure_openai_dimensions: int | None = Field(default=None, ge=1, le=3072)
    azure_openai_api_version: str = "2024-10-21"
    azure_openai_api_key_setting: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the app setting holding an API key; unset = Microsoft Entra ID (managed identity).",
    )
    azure_openai_concurrency: int = Field(default=4, ge=1, le=64)
    azure_openai_max_inputs: int = Field(default=2048, ge=1, le=2048)
    azure_openai_max_request_tokens: int = Field(default=300_000, ge=8191, le=300_000)
    azure_openai_max_retries: int = Field(default=6, ge=0, le=20)
    azure_openai_timeout: float = Field(default=60.0, gt=0, le=600)
    # The search index kept equal to the corpus's live chunks (shared/index, docs/index.md).
    index: Literal["lancedb", "azure-search", "none"] = Field(
        default="lancedb", description="Where live chunks are published: LanceDB (local), Azure AI Search, or none.")
    index_name: str = Field(default="chunks", pattern=r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$", description=(
        "LanceDB table / Azure AI Search alias readers query; each model's index is named after it."))
    index_path: str = Field(default=".harvest/index", min_length=1,
                            description="LanceDB directory (relative: under the working directory).")
    search_endpoint: str | None = Field(default=None, pattern=r"^https?://\S+$",
                                        description="https://<service>.search.windows.net (HARVEST_INDEX=azure-search)")
    search_api_key_setting: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the app setting holding an admin key; unset = Microsoft Entra ID (managed identity).")
    index_max_seconds: float = Field(default=120.0, gt=0, le=480, description=(
        "One publish activity stops after this long and says where the next call goes on (functionTimeout: 10 min)."))
    index_batch_chunks: int = Field(default=1000, ge=1, le=1000,
                                    description="Chunks (index actions) one request sends at most (the service: 1000).")
    index_in_batches: bool = Field(default=True, description=(
        "Each batch's commit publishes the documents it wrote (best effort); the end-of-source pass then finds "
        "them in line. false: only the end-of-source pass publishes."))
    chunk_tokens: int = Field(default=256, ge=32, le=8191)
    chunk_overlap: int = Field(default=32, ge=0)
    batch_size: int = Field(default=256, ge=1, le=500)
    max_parallel_sources: int = Field(default=4, ge=1, le=64)
    max_parallel_batches: int = Field(default=4, ge=1, le=64,
                                      description="Batches of one source's page in flight at once.")
    embed_max_tokens: int = Field(default=1_000_000, ge=1_000, le=10_000_000, description=(
        "Tokens one embed activity embeds at most; the rest in the next call. The seconds cap bounds a slow "
        "embedder's call; this one a fast embedder's (a default batch of 256 documents fits in one call)."))
    embed_max_seconds: float = Field(default=120.0, gt=0, le=480,
                                     description="One embed activity stops after this long (functionTimeout: 10 min).")
    pages_per_execution: int = Field(default=20, ge=1, le=10_000)
    failure_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    allowed_private_networks: str = Field(
        default="", description="Comma-separated CIDRs outbound fetches may reach (none by default)."
    )
    http_timeout: float = Field(default=30.0, gt=0)
    http_concurrency: int = Field(default=8, ge=1, le=256)
    max_body_bytes: int = Field(default=20_000_000, ge=1024)
    failed_retry_hours: float = Field(default=24.0, ge=0, le=24 * 365, description=(
        "A document that failed permanently (404, refused, oversized) is fetched again after this many hours, "
        "doubling after each further failure; a full refresh retries at once."))
    failed_retry_max_hours: float = Field(default=24.0 * 32, ge=0, le=24 * 3650)
    extract_max_bytes: int = Field(default=20_000_000, ge=1024,
                                   description="A larger document fails (extraction cost grows with size).")
    extract_max_depth: int = Field(default=1000, ge=16, le=100_000,
                                   description="HTML nesting deeper than this fails (parsers are quadratic in it).")
    extract_timeout: float = Field(default=60.0, gt=0, le=3600,
                                   description="Seconds one document's extraction may take before it fails.")
    user_agent: str = "Harvest/0.1 (+https://github.com/harvest-ingest/harvest)"
    log_level: str = "INFO"
    log_format: Literal["auto", "text", "json"] = Field(
        default="auto", description="text on a terminal, json in Azure (auto: json when WEBSITE_INSTANCE_ID is set)."
    )
    public_url: str | None = Field(default=None, pattern=r"^https?://\S+$",
                                   description="Base URL of the app, for links in notifications.")
    retention_days: int = Field(default=30, ge=0, le=3650, description="0 keeps run history forever.")
    notify_attempts: int = Field(default=3, ge=1, le=10)
    notify_timeout: float = Field(default=10.0, gt=0, le=120)
    webhook_url: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    webhook_on: str = "partial,failed"
    slack_webhook_url: SecretStr | None = None
    slack_on: str = "partial,failed"
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_to: str = ""
    smtp_ca_file: str | None = None
    email_on: str = "partial,failed"

    @field_validator("webhook_on", "slack_on", "email_on")
    @classmethod
    def _run_statuses(cls, v: str) -> str:
        bad = [s for s in (p.strip() for p in v.split(",")) if s and s not in NOTIFY_STATUSES]
        if bad:
            raise ValueError(f"unknown status {bad[0]!r} (choose from {', '.join(NOTIFY_STATUSES)})")
        return v

    def notify_on(self, channel: str) -> set[str]:
        value = {"webhook": self.webhook_on, "slack": self.slack_on, "email": self.email_on}[channel]
        return {part.strip() for part in value.split(",") if part.strip()}

    @field_validator("azure_openai_endpoint", "azure_openai_deployment", "azure_openai_dimensions",
                     "azure_openai_api_key_setting", "search_endpoint", "search_api_key_setting", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info: ValidationInfo) -> int:
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
        problems = [{**p, "field": "HARVEST_" + p["field"].upper()} for p in field_problems(exc)]
        raise ConfigError("invalid settings", problems) from None
    if not settings.storage_connection and not settings.storage_account_url:
        raise ConfigError(
            "invalid settings",
            [{"field": "AzureWebJobsStorage", "message": "set a connection string or HARVEST_STORAGE_ACCOUNT_URL"}],
        )
    if problems := _azure_openai_problems(settings) + _index_problems(settings):
        raise ConfigError("invalid settings", problems)
    return settings


def _index_problems(s: Settings) -> list[dict[str, str]]:
    if s.index == "azure-search" and not s.search_endpoint:
        return [{"field": "HARVEST_SEARCH_ENDPOINT", "message": "required with HARVEST_INDEX=azure-search"}]
    return []


def _azure_openai_problems(s: Settings) -> list[dict[str, str]]:
    if s.embedder != "azure-openai":
        return []
    needed = "required with HARVEST_EMBEDDER=azure-openai"
    problems = [{"field": f"HARVEST_AZURE_OPENAI_{name.upper()}", "message": needed}
                for name in ("endpoint", "deployment") if not getattr(s, f"azure_openai_{name}")]
    native = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072}.get(s.azure_openai_model)
    if s.azure_openai_dimensions and (native is None or s.azure_openai_dimensions > native):
        takes = f"at most {native}" if native else "no dimensions"
        message = f"{s.azure_openai_model} takes {takes}"
        problems.append({"field": "HARVEST_AZURE_OPENAI_DIMENSIONS", "message": message})
    return problems


@functools.cache
def get_settings() -> Settings:
    """Process-wide settings (activities call this; orchestrators never do)."""
    return load_settings()

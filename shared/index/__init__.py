"""The search index kept equal to the corpus's live chunks (docs/index.md).

- ``keys`` — index keys (URL-safe base64 of chunk ids) and index names;
- ``base`` — the target protocol; ``lancedb_target`` (local default) and ``azure_search`` (production);
- ``ledger`` — what a target acknowledged, per generation and source, in Blob;
- ``generations`` — which index readers see, the one being built, the switch;
- ``reconcile`` — one document: what the index should hold, its ledger entry before and after a write;
- ``sync`` — the publish stage (one source, bounded calls, resumable);
- ``batch`` — a batch's commit publishing the documents it wrote (best effort);
- ``check`` — status, drift and repair (``harvest index``).

``open_target(settings)`` builds the configured target (``None`` with ``HARVEST_INDEX=none``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from shared.errors import ConfigError
from shared.index.base import IndexTarget
from shared.settings import Settings


def build_target(settings: Settings) -> IndexTarget | None:
    if settings.index == "none":
        return None
    if settings.index == "lancedb":
        from shared.index.lancedb_target import LanceDBTarget

        return LanceDBTarget(Path(settings.index_path), settings.index_name)
    from shared.index.azure_search import AzureSearchTarget

    api_key = None
    if settings.search_api_key_setting:
        api_key = os.environ.get(settings.search_api_key_setting, "").strip()
        if not api_key:
            raise ConfigError("invalid settings", [{
                "field": "HARVEST_SEARCH_API_KEY_SETTING",
                "message": f"the app setting {settings.search_api_key_setting} is missing or empty"}])
    assert settings.search_endpoint is not None  # load_settings refuses azure-search without one
    return AzureSearchTarget(settings.search_endpoint, settings.index_name, api_key=api_key,
                             batch_actions=settings.index_batch_chunks)


@asynccontextmanager
async def open_target(settings: Settings) -> AsyncIterator[IndexTarget | None]:
    target = build_target(settings)
    try:
        yield target
    finally:
        if target is not None:
            await target.close()

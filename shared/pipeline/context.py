"""What every stage needs: settings, the blob store, the manifest, sources, the embedder, HTTP."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.config.manifest import Manifest, load_manifest
from shared.embedding import get_embedder
from shared.embedding.base import Embedder
from shared.errors import ConfigError
from shared.fetching.http import HttpClient
from shared.memory import release_memory
from shared.settings import Settings, get_settings
from shared.sources import build_source
from shared.sources.base import Source, SourceSpec
from shared.storage.blobs import BlobStore


@functools.lru_cache(maxsize=8)
def _cached_manifest(path: Path, mtime_ns: int) -> Manifest:
    return load_manifest(path)


def manifest_for(settings: Settings) -> Manifest:
    path = settings.manifest_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return _cached_manifest(path, mtime) if mtime else load_manifest(path)


@dataclass
class Context:
    settings: Settings
    store: BlobStore

    @functools.cached_property
    def manifest(self) -> Manifest:
        return manifest_for(self.settings)

    def source(self, source_id: str, *, share: int = 1) -> Source:
        """The source, built from its entry in the current manifest (``run_source`` for a run's). ``share``:
        how many activities fetch from it at once (a page's parallel batches); its ``rate_limit`` and
        ``concurrency`` are split between them."""
        return build_source(split_limits(self.manifest.get(source_id), share), base_dir=self.manifest.base_dir)

    async def run_manifest(self, run_id: str | None) -> Manifest:
        """The manifest run ``run_id`` was started with (its snapshot, ``shared.runs.snapshot``); the current
        one for a run started before snapshots existed, or when there is no run."""
        from shared.runs.snapshot import read_snapshot

        found = await read_snapshot(self.store, run_id) if run_id else None
        return found if found is not None else self.manifest

    async def run_source(self, run_id: str, source_id: str, *, share: int = 1) -> Source:
        """The source as run ``run_id`` was started with it (``run_manifest``); see ``source`` for ``share``."""
        manifest = await self.run_manifest(run_id)
        try:
            spec = manifest.get(source_id)
        except KeyError:
            raise ConfigError(f"source {source_id!r} is not in the manifest run {run_id} was started with") from None
        return build_source(split_limits(spec, share), base_dir=manifest.base_dir)

    @property
    def embedder(self) -> Embedder:
        return get_embedder(self.settings.embedder)

    def chunk_config_hash(self) -> str:
        """Identifies how chunks and vectors were made: a change means new versions."""
        s = self.settings
        key = f"{self.embedder.model_id}|{s.chunk_tokens}|{s.chunk_overlap}"
        return hashlib.sha256(key.encode()).hexdigest()[:8]

    def http(self) -> HttpClient:
        s = self.settings
        return HttpClient(
            user_agent=s.user_agent,
            timeout=s.http_timeout,
            max_body_bytes=s.max_body_bytes,
            allowed_networks=s.allowed_networks(),
            concurrency=s.http_concurrency,
        )


@asynccontextmanager
async def open_context(settings: Settings | None = None) -> AsyncIterator[Context]:
    """An activity's context; when it closes, the caches are emptied and the memory the activity freed goes
    back to the OS (``shared/memory.py``)."""
    settings = settings or get_settings()
    try:
        async with BlobStore.from_settings(settings) as store:
            yield Context(settings=settings, store=store)
    finally:
        release_memory()


def split_limits(spec: SourceSpec, share: int) -> SourceSpec:
    """``spec`` with its request rate and concurrency divided between ``share`` activities fetching from the
    source at once. The rate splits exactly; concurrency rounds down to at least one request each, so with
    fewer allowed requests than parallel batches, one per batch may be in flight."""
    rate, slots = getattr(spec, "rate_limit", None), getattr(spec, "concurrency", None)
    if share <= 1 or (rate is None and slots is None):
        return spec
    update: dict[str, float | int] = {}
    if rate is not None:
        update["rate_limit"] = rate / share
    if slots is not None:
        update["concurrency"] = max(1, slots // share)
    return spec.model_copy(update=update)

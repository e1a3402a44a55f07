"""What ``GET /api/sources`` shows about a source: its manifest configuration with secrets redacted, its
checkpoint (cursor, high-water mark, last run, last success, last error, claim) and how many document
records it has. Redaction (``shared.redact``): fields named like secrets (``*_setting``, ``*secret*``,
``*token*``, ``*password*``, keys, credentials) are masked, and so are credentials inside URLs
(user:password@ and query parameters such as ``sig``, ``token``, ``code``, ``key``)."""

from __future__ import annotations

import asyncio
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.config.manifest import Manifest, describe_sources
from shared.errors import CorruptBlobError
from shared.redact import redact_value
from shared.sources.base import SourceSpec
from shared.storage import hints, records
from shared.storage.blobs import BlobStore


def redacted_config(spec: SourceSpec) -> dict[str, Any]:
    data: dict[str, Any] = redact_value(spec.model_dump(mode="json", exclude={"id", "kind", "enabled", "title"}))
    return data


def manifest_configs(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """Each source's configuration for display: ``shared.config.manifest.describe_sources`` (setting *names* and
    whether each is set — never values) with credentials in URLs scrubbed as a second line of defence."""
    out = {}
    for item in describe_sources(manifest):
        config = {k: v for k, v in item.items() if k not in ("id", "kind", "enabled", "title")}
        out[item["id"]] = redact_value(config, keys=False)
    return out


async def document_count(store: BlobStore, source_id: str) -> int:
    """Live (not deleted) documents of the source: from the hint index (one read), or, when there is none,
    from the document records themselves."""
    try:
        index = await hints.load(store, source_id)
        if index:
            return sum(not entry["deleted"] for entry in index.values())
        return sum(not rec.deleted and rec.current is not None for rec in await records.list_docs(store, source_id))
    except ResourceNotFoundError:  # no container yet
        return 0


async def describe(store: BlobStore, spec: SourceSpec, config: dict[str, Any] | None = None) -> dict[str, Any]:
    checkpoint, documents = await asyncio.gather(records.read_checkpoint(store, spec.id),
                                                 document_count(store, spec.id), return_exceptions=True)
    if isinstance(documents, BaseException):
        raise documents
    error = None
    if isinstance(checkpoint, CorruptBlobError):
        checkpoint, error = records.Checkpoint(source_id=spec.id), str(checkpoint)
    elif isinstance(checkpoint, BaseException):
        raise checkpoint
    cp = checkpoint.model_dump(mode="json")
    return {"checkpoint_error": error} | {
        "id": spec.id, "kind": spec.kind, "enabled": spec.enabled, "title": spec.title,
        "config": redacted_config(spec) if config is None else config,
        "checkpoint": {k: cp.get(k) for k in ("cursor", "high_water", "active_run", "active_since",
                                              "reset_requested")},
        "last_run_id": cp.get("last_run_id"), "last_status": cp.get("last_status"),
        "last_success_at": cp.get("last_success_at"), "last_error": cp.get("last_error"),
        "last_counts": cp.get("counts"), "document_count": documents,
    }


async def describe_all(store: BlobStore, manifest: Manifest, concurrency: int = 8) -> list[dict[str, Any]]:
    limit = asyncio.Semaphore(concurrency)
    configs = manifest_configs(manifest)

    async def one(spec: SourceSpec) -> dict[str, Any]:
        async with limit:
            return await describe(store, spec, configs.get(spec.id))

    return list(await asyncio.gather(*(one(s) for s in manifest.sources)))


class SourceBusy(Exception):
    """A run holds the source: it cannot be reset now."""

    def __init__(self, source_id: str, run_id: str) -> None:
        super().__init__(f"source {source_id} is being processed by run {run_id}")
        self.source_id, self.run_id = source_id, run_id


async def request_reset(store: BlobStore, source_id: str) -> None:
    """The source's next run re-reads it from the beginning (``POST /api/sources/{id}/reset``, `harvest
    sources reset`). ``SourceBusy`` while a run holds it."""
    checkpoint = await records.read_checkpoint(store, source_id)
    if checkpoint.active_run:
        raise SourceBusy(source_id, checkpoint.active_run)
    await store.ensure_container()
    await records.update_checkpoint(store, source_id, reset_requested=True)

"""Document records, source checkpoints and run records: models and their ETag-guarded updates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import ClaimHeldError
from shared.models import RunSummary, SourceCounts
from shared.storage import layout
from shared.storage.blobs import BlobStore


def utcnow() -> datetime:
    return datetime.now(UTC)


class VersionInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content_hash: str
    blob: str
    run_id: str
    at: datetime
    chunks: int


class DocRecord(BaseModel):
    """What Harvest knows about one document. Written only after the corpus blob it points at."""

    model_config = ConfigDict(extra="ignore")
    source_id: str
    doc_id: str
    url: str
    title: str | None = None
    content_hash: str | None = None
    hint: str | None = None
    current: str | None = Field(default=None, description="Blob of the current version; None if deleted.")
    model: str | None = None
    config: str | None = Field(default=None, description="Model + chunking config of the current version.")
    deleted: bool = False
    versions: list[VersionInfo] = Field(default_factory=list)
    updated_at: datetime | None = None


class Checkpoint(BaseModel):
    """Per-source state. ``cursor`` is the resume point inside a run; ``high_water`` carries across runs."""

    model_config = ConfigDict(extra="ignore")
    source_id: str
    cursor: str | None = None
    high_water: str | None = None
    active_run: str | None = None
    active_since: datetime | None = None
    last_run_id: str | None = None
    last_status: str | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    counts: SourceCounts = SourceCounts()
    reset_requested: bool = False


async def read_doc(store: BlobStore, source_id: str, doc_id: str) -> DocRecord | None:
    value, _ = await store.read_json(layout.doc_record_blob(source_id, doc_id))
    return None if value is None else DocRecord.model_validate(value)


async def write_doc(store: BlobStore, record: DocRecord) -> DocRecord:
    """Write a document record under an ETag condition (the record only ever moves forward)."""
    record = record.model_copy(update={"updated_at": utcnow()})
    payload = record.model_dump(mode="json")
    await store.update_json(layout.doc_record_blob(record.source_id, record.doc_id), lambda _old: payload)
    return record


async def list_docs(
    store: BlobStore, source_id: str, *, skip: set[str] | frozenset[str] = frozenset()
) -> list[DocRecord]:
    """Every document record of the source, except those whose blob name is in ``skip`` (not read)."""
    out: list[DocRecord] = []
    async for name in store.list_names(layout.docs_prefix(source_id)):
        if name in skip:
            continue
        value, _ = await store.read_json(name)
        if value is not None:
            out.append(DocRecord.model_validate(value))
    return out


async def read_checkpoint(store: BlobStore, source_id: str) -> Checkpoint:
    value, _ = await store.read_json(layout.checkpoint_blob(source_id))
    return Checkpoint(source_id=source_id) if value is None else Checkpoint.model_validate(value)


async def update_checkpoint(store: BlobStore, source_id: str, **changes: Any) -> Checkpoint:
    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        cp = Checkpoint(source_id=source_id) if current is None else Checkpoint.model_validate(current)
        return cp.model_copy(update=changes).model_dump(mode="json")

    return Checkpoint.model_validate(await store.update_json(layout.checkpoint_blob(source_id), change))


async def claim_source(
    store: BlobStore, source_id: str, run_id: str, *, stale_after_s: float = 6 * 3600
) -> Checkpoint:
    """Mark ``run_id`` as the one run allowed to advance this source's checkpoint.

    A second run is refused with ``ClaimHeldError`` while the first holds the claim (claims older
    than ``stale_after_s`` are considered abandoned). The same run claiming again is a no-op.
    """

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        cp = Checkpoint(source_id=source_id) if current is None else Checkpoint.model_validate(current)
        now = utcnow()
        if cp.active_run and cp.active_run != run_id:
            age = (now - cp.active_since).total_seconds() if cp.active_since else 0.0
            if age < stale_after_s:
                raise ClaimHeldError(f"source {source_id!r} is being processed by run {cp.active_run}")
        if cp.active_run != run_id:
            cp = cp.model_copy(update={"active_run": run_id, "active_since": now, "cursor": None})
        return cp.model_dump(mode="json")

    return Checkpoint.model_validate(await store.update_json(layout.checkpoint_blob(source_id), change))


async def release_source(store: BlobStore, source_id: str, run_id: str, **changes: Any) -> Checkpoint:
    """Apply the run's final changes and drop its claim (only if it still holds it)."""

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        cp = Checkpoint(source_id=source_id) if current is None else Checkpoint.model_validate(current)
        if cp.active_run not in (None, run_id):
            return cp.model_dump(mode="json")
        update = {**changes, "active_run": None, "active_since": None, "cursor": None}
        return cp.model_copy(update=update).model_dump(mode="json")

    return Checkpoint.model_validate(await store.update_json(layout.checkpoint_blob(source_id), change))


async def read_run(store: BlobStore, run_id: str) -> RunSummary | None:
    value, _ = await store.read_json(layout.run_blob(run_id))
    return None if value is None else RunSummary.model_validate(value)


async def write_run(store: BlobStore, summary: RunSummary) -> RunSummary:
    payload = summary.model_dump(mode="json")
    await store.update_json(layout.run_blob(summary.run_id), lambda _old: payload)
    return summary

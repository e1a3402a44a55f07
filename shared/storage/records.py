"""Document records, source checkpoints and run records: models and their ETag-guarded updates."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import ClaimHeldError, CorruptBlobError
from shared.models import SourceCounts
from shared.storage import layout
from shared.storage.blobs import BlobStore

log = logging.getLogger("harvest.storage")
CHECKPOINT_FIX = "run `harvest verify --repair` to replace it (the source's next run then reads it in full)"


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

    def has_text(self, content_hash: str | None) -> bool:
        """Live (not deleted, a current version) and that version has this text."""
        return not self.deleted and bool(self.current) and self.content_hash == content_hash


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
    last_seconds: float | None = None  # the last run's wall time for this source (balances source lanes)
    reset_requested: bool = False
    retired_at: datetime | None = None
    retired_reason: str | None = None


def parse_doc(value: Any, name: str) -> DocRecord:
    """A document record from its stored JSON; ``CorruptBlobError`` naming ``name`` when it is not one."""
    try:
        return DocRecord.model_validate(value)
    except ValidationError as exc:
        raise CorruptBlobError(name, f"not a document record: {exc.errors()[0]['msg']}") from None


def doc_or_none(value: Any) -> DocRecord | None:
    """A document record from stored JSON, or None when there is none or it is unreadable (heal: unknown)."""
    try:
        return None if value is None else DocRecord.model_validate(value)
    except ValidationError:
        return None


async def load_doc(store: BlobStore, name: str) -> DocRecord | None:
    """The record stored at ``name``; ``CorruptBlobError`` when it is unreadable."""
    value, _ = await store.read_json(name)
    return None if value is None else parse_doc(value, name)


async def read_doc(store: BlobStore, source_id: str, doc_id: str) -> DocRecord | None:
    """The document's record; an unreadable one is "unknown" (logged): the document is fetched again and
    its next commit replaces the record."""
    name = layout.doc_record_blob(source_id, doc_id)
    try:
        return await load_doc(store, name)
    except CorruptBlobError as exc:
        log.warning("%s; treating the document as unknown (it is fetched again)", exc)
        return None


async def write_doc(store: BlobStore, record: DocRecord) -> DocRecord:
    """Write a document record under an ETag condition (the record only ever moves forward)."""
    record = record.model_copy(update={"updated_at": utcnow()})
    payload = record.model_dump(mode="json")
    await store.update_json(layout.doc_record_blob(record.source_id, record.doc_id), lambda _old: payload, heal=True)
    return record


async def list_docs(
    store: BlobStore, source_id: str, *, skip: set[str] | frozenset[str] = frozenset()
) -> list[DocRecord]:
    """Every document record of the source, except those whose blob name is in ``skip`` (not read)."""
    out: list[DocRecord] = []
    async for name in store.list_names(layout.docs_prefix(source_id)):
        if name in skip:
            continue
        try:
            record = await load_doc(store, name)
        except CorruptBlobError as exc:
            log.warning("%s; skipped", exc)
            continue
        if record is not None:
            out.append(record)
    return out


def _checkpoint(value: Any, source_id: str) -> Checkpoint:
    if value is None:
        return Checkpoint(source_id=source_id)
    try:
        return Checkpoint.model_validate(value)
    except ValidationError as exc:
        raise CorruptBlobError(layout.checkpoint_blob(source_id), f"not a checkpoint: {exc.errors()[0]['msg']}",
                               fix=CHECKPOINT_FIX) from None


async def _read_checkpoint_json(store: BlobStore, source_id: str) -> Any:
    try:
        value, _ = await store.read_json(layout.checkpoint_blob(source_id))
    except CorruptBlobError as exc:
        raise CorruptBlobError(exc.blob, exc.detail, etag=exc.etag, fix=CHECKPOINT_FIX) from None
    return value


async def read_checkpoint(store: BlobStore, source_id: str) -> Checkpoint:
    """The source's checkpoint; ``CorruptBlobError`` (permanent, naming the blob and the fix) when unreadable:
    guessing where a source stands could skip documents, so it is not healed silently."""
    return _checkpoint(await _read_checkpoint_json(store, source_id), source_id)


async def _update_checkpoint_json(store: BlobStore, source_id: str, change: Any) -> Any:
    try:
        return await store.update_json(layout.checkpoint_blob(source_id), change)
    except CorruptBlobError as exc:
        raise CorruptBlobError(exc.blob, exc.detail, etag=exc.etag, fix=CHECKPOINT_FIX) from None


async def update_checkpoint(store: BlobStore, source_id: str, **changes: Any) -> Checkpoint:
    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        cp = _checkpoint(current, source_id)
        return cp.model_copy(update=changes).model_dump(mode="json")

    return Checkpoint.model_validate(await _update_checkpoint_json(store, source_id, change))


async def claim_source(
    store: BlobStore, source_id: str, run_id: str, *, stale_after_s: float = 6 * 3600
) -> Checkpoint:
    """Mark ``run_id`` as the one run allowed to advance this source's checkpoint.

    A second run is refused with ``ClaimHeldError`` while the first holds the claim (claims older
    than ``stale_after_s`` are considered abandoned). The same run claiming again is a no-op.
    """

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        cp = _checkpoint(current, source_id)
        now = utcnow()
        if cp.active_run and cp.active_run != run_id:
            age = (now - cp.active_since).total_seconds() if cp.active_since else 0.0
            if age < stale_after_s:
                raise ClaimHeldError(f"source {source_id!r} is being processed by run {cp.active_run}")
        if cp.active_run != run_id:
            cp = cp.model_copy(update={"active_run": run_id, "active_since": now, "cursor": None})
        return cp.model_dump(mode="json")

    return Checkpoint.model_validate(await _update_checkpoint_json(store, source_id, change))


async def release_source(store: BlobStore, source_id: str, run_id: str, **changes: Any) -> Checkpoint:
    """Apply the run's final changes and drop its claim (only if it still holds it)."""

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        cp = _checkpoint(current, source_id)
        if cp.active_run not in (None, run_id):
            return cp.model_dump(mode="json")
        update = {**changes, "active_run": None, "active_since": None, "cursor": None}
        return cp.model_copy(update=update).model_dump(mode="json")

    return Checkpoint.model_validate(await _update_checkpoint_json(store, source_id, change))

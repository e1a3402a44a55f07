"""Retiring a source: its documents leave the corpus (export, query) while their history stays.

Append-only like a deletion found by a run: every live document gets a tombstone and its record is marked
deleted (its versions stay listed, their blobs stay until compaction); the hint index learns the deletions
and the checkpoint records when and why. A source still enabled in the manifest is refused (the next run
would bring its documents back), and so is one a run is processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from shared.errors import ClaimHeldError
from shared.pipeline.commit import tombstone
from shared.storage import hints, layout, records
from shared.storage.blobs import BlobStore


@dataclass
class Retired:
    source_id: str
    retired: int  # documents tombstoned now
    already_deleted: int  # records that were already deleted
    tombstone_run: str
    index_deleted: int = 0  # chunks the search index deleted (the CLI publishes after retiring)
    index_error: str | None = None


async def retire_source(store: BlobStore, source_id: str, *, reason: str | None = None,
                        now: datetime | None = None) -> Retired:
    now = now or datetime.now(UTC)
    checkpoint = await records.read_checkpoint(store, source_id)
    if checkpoint.active_run:
        raise ClaimHeldError(f"source {source_id!r} is being processed by run {checkpoint.active_run}: "
                            "retire it after that run ends (or cancel it)")
    run_id = f"retire-{now:%Y%m%dT%H%M%SZ}"
    docs = await records.list_docs(store, source_id)
    live = [rec for rec in docs if not rec.deleted and rec.current]
    for rec in live:
        await tombstone(store, source_id, rec.doc_id, run_id, reason=reason or "source retired")
    await hints.merge(store, source_id, [{"doc_id": rec.doc_id, "deleted": True} for rec in live])
    if live or await store.exists(layout.checkpoint_blob(source_id)):
        await records.update_checkpoint(store, source_id, retired_at=now, retired_reason=reason, cursor=None)
    return Retired(source_id=source_id, retired=len(live), already_deleted=len(docs) - len(live),
                   tombstone_run=run_id)

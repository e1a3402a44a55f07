"""Compaction: the only step that removes corpus data. Keeps the newest ``keep`` versions of every
document (the current one always), and sweeps version blobs no record refers to.

Order: the document record drops the version first (ETag-guarded), then its blob is deleted. A crash in
between leaves an unreferenced blob, which the next compaction sweeps; readers never see a record that
points at a missing current version.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import BaseModel

from shared.errors import CorruptBlobError
from shared.pipeline.context import Context
from shared.storage import layout
from shared.storage.records import DocRecord, doc_or_none

log = logging.getLogger("harvest.pipeline")


class CompactResult(BaseModel):
    source_id: str
    documents: int = 0
    versions_removed: int = 0
    blobs_deleted: int = 0
    seconds: float = 0.0


def _kept(rec: DocRecord, keep: int) -> list[Any]:
    """The versions to keep: the newest ``keep`` (by position: versions are appended) plus the current."""
    newest = rec.versions[-keep:] if keep > 0 else []
    return [v for v in rec.versions if v in newest or v.blob == rec.current]


async def _drop_old_versions(ctx: Context, name: str, keep: int) -> tuple[DocRecord | None, int]:
    removed: list[str] = []

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        removed.clear()
        if current is None:
            return None
        rec = doc_or_none(current)
        if rec is None:  # unreadable: left for `harvest verify` to report
            return None
        kept = _kept(rec, keep)
        if len(kept) == len(rec.versions):
            return current
        removed.extend(v.blob for v in rec.versions if v not in kept)
        return rec.model_copy(update={"versions": kept}).model_dump(mode="json")

    try:
        record = await ctx.store.update_json(name, change)
    except CorruptBlobError as exc:
        log.warning("%s; not compacted", exc)
        return None, 0
    return doc_or_none(record), len(removed)


async def _sweep(ctx: Context, source_id: str, rec: DocRecord) -> int:
    """Delete version blobs of this document that its record no longer refers to."""
    referenced = {v.blob for v in rec.versions} | ({rec.current} if rec.current else set())
    deleted = 0
    async for blob in ctx.store.list_names(layout.doc_corpus_prefix(source_id, rec.doc_id)):
        if blob.endswith(".jsonl") and blob not in referenced and await ctx.store.delete(blob):
            deleted += 1
    return deleted


async def compact_source(ctx: Context, source_id: str, keep: int) -> CompactResult:
    if keep < 1:
        raise ValueError("keep must be at least 1")
    started = time.perf_counter()
    result = CompactResult(source_id=source_id)
    async for name in ctx.store.list_names(layout.docs_prefix(source_id)):
        result.documents += 1
        record, removed = await _drop_old_versions(ctx, name, keep)
        result.versions_removed += removed
        if record is not None:
            result.blobs_deleted += await _sweep(ctx, source_id, record)
    result.seconds = time.perf_counter() - started
    return result

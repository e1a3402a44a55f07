"""Compaction: the only step that removes corpus data. Keeps the newest ``keep`` versions of every
document (the current one always), and sweeps version blobs no record refers to.

Order: the document record drops the version first (ETag-guarded), then its blob is deleted. A crash in
between leaves an unreferenced blob, which the next compaction sweeps; readers never see a record that
points at a missing current version.

A source is compacted in pages (``compact_page``: up to ``page_size`` document records from a Blob listing
continuation token, the documents of a page concurrently), so each activity is bounded whatever the size
of the source; the compaction orchestrator drives the pages. ``compact_source`` walks them all in one call
(the CLI's local path).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from shared.errors import CorruptBlobError
from shared.models import CompactResult
from shared.pipeline.context import Context
from shared.storage import layout
from shared.storage.records import DocRecord, doc_or_none

log = logging.getLogger("harvest.pipeline")

PAGE_SIZE = 200
CONCURRENCY = 16


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


async def _list_page(ctx: Context, prefix: str, size: int, token: str | None) -> tuple[list[str], str | None]:
    """One page of blob names under ``prefix`` and the token of the next (``None``: that was the last)."""
    pages = ctx.store.container.list_blobs(name_starts_with=prefix, results_per_page=size).by_page(
        continuation_token=token)
    names: list[str] = []
    async for page in pages:
        names = [item.name async for item in page]
        break
    # by_page() returns an AsyncPageIterator, which carries the token (typed as a bare AsyncIterator)
    after: str | None = getattr(pages, "continuation_token", None)
    return names, after or None


async def compact_page(ctx: Context, source_id: str, keep: int, continuation: str | None = None,
                       page_size: int = PAGE_SIZE) -> CompactResult:
    """Compact the document records of one page; ``continuation`` of the result: where the next starts."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    started = time.perf_counter()
    names, after = await _list_page(ctx, layout.docs_prefix(source_id), page_size, continuation)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(name: str) -> tuple[int, int]:
        async with limit:
            record, removed = await _drop_old_versions(ctx, name, keep)
            return removed, (0 if record is None else await _sweep(ctx, source_id, record))

    done = await asyncio.gather(*(one(name) for name in names))
    return CompactResult(source_id=source_id, documents=len(names), versions_removed=sum(r for r, _ in done),
                         blobs_deleted=sum(d for _, d in done), seconds=round(time.perf_counter() - started, 4),
                         pages=1, continuation=after)


async def compact_source(ctx: Context, source_id: str, keep: int, page_size: int = PAGE_SIZE) -> CompactResult:
    """Every page of a source, one after the other."""
    result = CompactResult(source_id=source_id)
    while True:
        result = result.add(await compact_page(ctx, source_id, keep, result.continuation, page_size))
        if result.continuation is None:
            return result

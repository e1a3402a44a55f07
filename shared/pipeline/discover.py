"""Discovery: list one page of a source, drop what the cheap change hint proves unchanged, and stage the
rest as batches. On the last page of a source that lists everything, stage the vanished documents."""

from __future__ import annotations

import asyncio
import time

from shared.models import BatchRef, DiscoverInput, DiscoverResult, DocumentRef
from shared.pipeline.context import Context
from shared.pipeline.staging import write_stage
from shared.storage import layout, records

DELETED_BATCH = "deleted"


async def discover(ctx: Context, task: DiscoverInput) -> DiscoverResult:
    started = time.perf_counter()
    source = ctx.source(task.source_id)
    async with ctx.http() as http:
        page = await source.discover(
            cursor=task.cursor,
            since=None if task.full_refresh else task.since,
            page_size=task.batch_size * task.batches_per_page,
            http=http,
        )
    refs = page.items
    known = await _read_records(ctx, task.source_id, [r.doc_id for r in refs])
    candidates: list[DocumentRef] = []
    unchanged = 0
    for ref in refs:
        rec = known.get(ref.doc_id)
        if (
            not task.full_refresh
            and rec is not None
            and not rec.deleted
            and ref.hint is not None
            and rec.hint == ref.hint
        ):
            unchanged += 1
        else:
            candidates.append(ref)

    batches: list[str] = []
    for k in range(0, len(candidates), task.batch_size):
        batch_id = f"p{task.page:05d}-b{k // task.batch_size:03d}"
        rows = [r.model_dump(mode="json") for r in candidates[k : k + task.batch_size]]
        await write_stage(ctx.store, _ref(task, batch_id), "refs", rows)
        batches.append(batch_id)

    deleted_batch, deleted = None, 0
    done = page.next_cursor is None
    if source.lists_everything:
        await ctx.store.write_json(
            layout.seen_blob(task.run_id, task.source_id, task.page), [r.doc_id for r in refs]
        )
        if done:
            deleted = await _stage_deletions(ctx, task)
            deleted_batch = DELETED_BATCH if deleted else None
    return DiscoverResult(
        page=task.page,
        batches=batches,
        discovered=len(refs),
        unchanged=unchanged,
        deleted_batch=deleted_batch,
        deleted=deleted,
        next_cursor=page.next_cursor,
        high_water=page.high_water,
        done=done,
        seconds=time.perf_counter() - started,
    )


def _ref(task: DiscoverInput, batch_id: str) -> BatchRef:
    return BatchRef(run_id=task.run_id, source_id=task.source_id, batch_id=batch_id, dry_run=task.dry_run)


async def _read_records(ctx: Context, source_id: str, doc_ids: list[str]) -> dict[str, records.DocRecord]:
    limit = asyncio.Semaphore(32)

    async def one(doc_id: str) -> records.DocRecord | None:
        async with limit:
            return await records.read_doc(ctx.store, source_id, doc_id)

    found = await asyncio.gather(*(one(d) for d in doc_ids))
    return {rec.doc_id: rec for rec in found if rec is not None}


async def _stage_deletions(ctx: Context, task: DiscoverInput) -> int:
    """Documents with a live record that no page of this run has seen are gone from the source."""
    seen: set[str] = set()
    async for name in ctx.store.list_names(layout.seen_prefix(task.run_id, task.source_id)):
        value, _ = await ctx.store.read_json(name)
        seen.update(value or [])
    gone = [
        DocumentRef(doc_id=rec.doc_id, url=rec.url, title=rec.title)
        for rec in await records.list_docs(ctx.store, task.source_id)
        if not rec.deleted and rec.doc_id not in seen
    ]
    if gone:
        await write_stage(
            ctx.store, _ref(task, DELETED_BATCH), "refs", [r.model_dump(mode="json") for r in gone]
        )
    return len(gone)

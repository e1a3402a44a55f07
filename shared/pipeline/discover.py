"""Discovery: list one page of a source, drop what the cheap change hint proves unchanged, and stage the
rest as batches. On the last page of a source that lists everything, stage the vanished documents."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from shared.models import BatchRef, DiscoverInput, DiscoverResult, DocumentRef
from shared.pipeline.context import Context
from shared.pipeline.staging import write_stage
from shared.storage import failures, hints, layout, records

DELETED_BATCH = "deleted"
RAMP = (3, 1)  # on a source's first page the first batches hold 1/8 and 1/2 of a batch ...
MIN_RAMP = 16  # ... when that is at least this many documents


def batch_bounds(count: int, size: int, *, ramp: bool) -> list[tuple[int, int]]:
    """``(start, end)`` of each batch of ``count`` documents, ``size`` a batch. With ``ramp`` (a source's
    first page) the first batches are smaller, so the embedder gets its first chunks after a small batch is
    fetched and chunked, and the next batches are fetched and chunked while it works."""
    sizes = [size >> shift for shift in RAMP if size >> shift >= MIN_RAMP] if ramp else []
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < count:
        step = sizes[len(bounds)] if len(bounds) < len(sizes) else size
        bounds.append((start, min(count, start + step)))
        start += step
    return bounds


async def discover(ctx: Context, task: DiscoverInput) -> DiscoverResult:
    started = time.perf_counter()
    source = await ctx.run_source(task.run_id, task.source_id)
    async with ctx.http() as http:
        page = await source.discover(
            cursor=task.cursor,
            since=None if task.full_refresh else task.since,
            page_size=task.batch_size * task.batches_per_page,
            http=http,
        )
    refs = page.items
    index = {} if task.full_refresh else await hints.load(ctx.store, task.source_id)
    config = ctx.chunk_config_hash()
    candidates: list[DocumentRef] = []
    unchanged = 0
    for ref in refs:
        known = index.get(ref.doc_id)
        if (
            known is not None
            and not known["deleted"]
            and ref.hint is not None
            and known["hint"] == ref.hint
            and known["config"] == config
        ):
            unchanged += 1
        else:
            candidates.append(ref)
    deferred = 0
    remembered = {} if task.full_refresh else await failures.load(ctx.store, task.source_id)
    if remembered:  # documents that failed permanently before wait for their retry time
        now = datetime.now(UTC)
        due = [r for r in candidates
               if r.doc_id not in remembered or failures.is_due(remembered[r.doc_id], r.hint, now)]
        deferred, candidates = len(candidates) - len(due), due

    batches: list[str] = []
    sizes: list[int] = []
    for k, (start, end) in enumerate(batch_bounds(len(candidates), task.batch_size, ramp=task.page == 0)):
        batch_id = f"p{task.page:05d}-b{k:03d}"
        rows = [r.model_dump(mode="json") for r in candidates[start:end]]
        await write_stage(ctx.store, _ref(task, batch_id), "refs", rows)
        batches.append(batch_id)
        sizes.append(end - start)

    deleted_batch, deleted = None, 0
    done = page.next_cursor is None
    if source.lists_everything and source.spec.detect_deletions:
        await ctx.store.write_json(
            layout.seen_blob(task.run_id, task.source_id, task.page), [r.doc_id for r in refs]
        )
        if done:
            deleted = await _stage_deletions(ctx, task)
            deleted_batch = DELETED_BATCH if deleted else None
    elif page.deleted:  # deletions the source reports itself (OAI-PMH): tombstone the live documents
        gone = [r for r in page.deleted if (rec := await records.read_doc(ctx.store, task.source_id, r.doc_id))
                and not rec.deleted]
        if gone:
            deleted_batch, deleted = f"p{task.page:05d}-deleted", len(gone)
            await write_stage(ctx.store, _ref(task, deleted_batch), "refs", [r.model_dump(mode="json") for r in gone])
    return DiscoverResult(
        page=task.page,
        batches=batches,
        sizes=sizes,
        discovered=len(refs),
        unchanged=unchanged,
        deleted_batch=deleted_batch,
        deleted=deleted,
        deferred=deferred,
        next_cursor=page.next_cursor,
        high_water=page.high_water,
        done=done,
        seconds=time.perf_counter() - started,
    )


def _ref(task: DiscoverInput, batch_id: str) -> BatchRef:
    return BatchRef(run_id=task.run_id, source_id=task.source_id, batch_id=batch_id, dry_run=task.dry_run)


async def _stage_deletions(ctx: Context, task: DiscoverInput) -> int:
    """Documents with a live record that no page of this run has seen are gone from the source.

    The live set comes from the hint index; a full refresh (or a missing index) reads the records."""
    seen: set[str] = set()
    async for name in ctx.store.list_names(layout.seen_prefix(task.run_id, task.source_id)):
        value, _ = await ctx.store.read_json(name)
        seen.update(value or [])
    index = {} if task.full_refresh else await hints.load(ctx.store, task.source_id)
    if index:
        live = [d for d, e in index.items() if not e["deleted"] and d not in seen]
        gone = [DocumentRef(doc_id=d, url="") for d in sorted(live)]
    else:  # read only the records of documents no page has seen (record names are keyed by doc id)
        seen_names = {layout.doc_record_blob(task.source_id, d) for d in seen}
        gone = [
            DocumentRef(doc_id=rec.doc_id, url=rec.url, title=rec.title)
            for rec in await records.list_docs(ctx.store, task.source_id, skip=seen_names)
            if not rec.deleted and rec.doc_id not in seen
        ]
    if gone:
        await write_stage(
            ctx.store, _ref(task, DELETED_BATCH), "refs", [r.model_dump(mode="json") for r in gone]
        )
    return len(gone)

"""Drive one source through the stage functions in order, as the source orchestrator does (no Durable)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from shared.models import BatchRef, DiscoverInput, RunOptions, SourceCounts, SourceResult, SourceTask
from shared.pipeline import chunk, commit, discover, embed, fetch, lifecycle
from shared.pipeline.context import Context


async def run_source(ctx: Context, run_id: str, source_id: str = "notes", *, full_refresh: bool = False,
                     dry_run: bool = False, reembed: bool = False,
                     before_finish: Callable[[], Awaitable[object]] | None = None) -> SourceCounts:
    options = RunOptions(full_refresh=full_refresh, dry_run=dry_run, reembed=reembed)
    full_refresh = options.full_refresh
    start = await lifecycle.begin_source(ctx, SourceTask(run_id=run_id, source_id=source_id, options=options))
    counts, cursor, page = SourceCounts(), start.cursor, 0
    while True:
        found = await discover.discover(ctx, DiscoverInput(
            run_id=run_id, source_id=source_id, page=page, cursor=cursor, since=start.since,
            batch_size=ctx.settings.batch_size, batches_per_page=2, full_refresh=full_refresh, dry_run=dry_run))
        counts = counts.add({"discovered": found.discovered, "unchanged": found.unchanged,
                             "deferred": found.deferred})
        for batch_id in found.batches:
            ref = BatchRef(run_id=run_id, source_id=source_id, batch_id=batch_id, dry_run=dry_run, reembed=reembed)
            fetched = await fetch.fetch(ctx, ref)
            counts = counts.add(fetched.counts)
            if dry_run:
                continue
            await chunk.chunk(ctx, ref)
            counts = counts.add((await embed.embed(ctx, ref)).counts)
            await commit.commit(ctx, ref)
        if found.deleted_batch:
            if dry_run:
                counts = counts.add({"deleted": found.deleted})
            else:
                ref = BatchRef(run_id=run_id, source_id=source_id, batch_id=found.deleted_batch)
                counts = counts.add((await commit.commit_deletions(ctx, ref)).counts)
        if not dry_run:
            await lifecycle.save_cursor(ctx, run_id, source_id, found.next_cursor)
        if found.done:
            break
        cursor, page = found.next_cursor, page + 1
    if before_finish is not None:  # a fault injected between the last commit and the end of the source
        await before_finish()
    result = SourceResult(source_id=source_id, status="completed", counts=counts)
    await lifecycle.finish_source(ctx, run_id, result, found.high_water, dry_run, full_refresh)
    return counts

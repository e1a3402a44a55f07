"""The run and source lifecycle: which sources run, run records, source claims and checkpoints."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from shared.config.manifest import Manifest
from shared.faults import crashpoint
from shared.models import RunInput, RunOptions, RunPlan, RunSummary, SourceResult, SourceStart, SourceTask
from shared.pipeline.commit import COMMITTED
from shared.pipeline.context import Context
from shared.runs import active, record
from shared.runs.index import sync_index
from shared.storage import failures, hints, layout, records

ERROR_BUDGET = 200  # errors the source results of one run keep in all (at least one each)



async def plan(ctx: Context, options: RunOptions, manifest: Manifest | None = None) -> RunPlan:
    """The sources a run covers and the knobs the orchestrators need (they may not read settings). With more
    sources than run at once, each source's last run time balances the source lanes. ``manifest``: the one
    the run was started with (``Context.run_manifest``); the current one if None."""
    manifest = manifest or ctx.manifest
    specs = manifest.select(options.sources)
    s = ctx.settings
    message = None
    if not specs:
        message = ("nothing to do: the manifest lists no sources" if not manifest.sources
                   else "nothing to do: every source in the manifest is disabled")
    return RunPlan(
        sources=[spec.id for spec in specs],
        message=message,
        batch_sizes={spec.id: spec.batch_size or s.batch_size for spec in specs},
        max_parallel_sources=s.max_parallel_sources,
        max_parallel_batches=s.max_parallel_batches,
        pages_per_execution=s.pages_per_execution,
        failure_threshold=s.failure_threshold,
        weights=await last_seconds(ctx, [spec.id for spec in specs]) if len(specs) > s.max_parallel_sources else {},
        errors_kept=max(1, min(20, ERROR_BUDGET // max(1, len(specs)))),
    )


async def last_seconds(ctx: Context, source_ids: list[str]) -> dict[str, float]:
    """How long each source's last run took (sources never run, or whose checkpoint cannot be read, get the
    mean of the others, or 1)."""
    limit = asyncio.Semaphore(16)

    async def one(sid: str) -> float | None:
        async with limit:
            try:
                return (await records.read_checkpoint(ctx.store, sid)).last_seconds
            except Exception:  # a corrupt checkpoint is reported when the source runs; here it only weighs
                return None

    found = dict(zip(source_ids, await asyncio.gather(*(one(sid) for sid in source_ids)), strict=True))
    known = [v for v in found.values() if v]
    default = sum(known) / len(known) if known else 1.0
    return {sid: (value or default) for sid, value in found.items()}


async def open_run(ctx: Context, run: RunInput, source_ids: list[str], status_url: str | None = None) -> RunSummary:
    """Create the run record (with its lasting status URL, if it has one), or return the one a previous attempt
    of this activity wrote; either way the run index lists it."""
    opened = await record.create(ctx.store, RunSummary(
        run_id=run.run_id,
        status="running",
        trigger=run.trigger,
        options=run.options,
        requested_at=run.requested_at,
        started_at=datetime.now(UTC),
        sources={sid: SourceResult(source_id=sid) for sid in source_ids},
        status_url=status_url,
    ))
    crashpoint("run.opened")
    await sync_index(ctx.store, run.run_id)
    return opened


async def close_run(ctx: Context, summary: RunSummary) -> RunSummary:
    crashpoint("run.closing")
    closed = await record.close(ctx.store, summary)
    await active.release(ctx.store, summary.run_id)  # the next run may start now
    crashpoint("run.closed")
    return closed


async def begin_source(ctx: Context, task: SourceTask) -> SourceStart:
    """Claim the source for this run (not for dry runs), mark it running in the run record, and say where
    discovery starts."""
    await record.record_source(ctx.store, task.run_id, SourceResult(
        source_id=task.source_id, status="running", phase="running", started_at=datetime.now(UTC)))
    if task.options.dry_run:
        cp = await records.read_checkpoint(ctx.store, task.source_id)
        since = None if task.options.full_refresh or cp.reset_requested else cp.high_water
        return SourceStart(cursor=None, since=since, claimed=False)
    before = await records.read_checkpoint(ctx.store, task.source_id)
    cp = await records.claim_source(ctx.store, task.source_id, task.run_id)
    resumed = before.active_run == task.run_id
    since = None if task.options.full_refresh or cp.reset_requested else cp.high_water
    return SourceStart(cursor=cp.cursor if resumed else None, since=since, claimed=True)


async def save_cursor(ctx: Context, run_id: str, source_id: str, cursor: str | None) -> None:
    """Advance the in-run cursor after a page is committed (only while this run holds the claim)."""

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current is None or current.get("active_run") != run_id:
            return current
        return {**current, "cursor": cursor}

    crashpoint("checkpoint.before")
    await ctx.store.update_json(layout.checkpoint_blob(source_id), change)
    crashpoint("checkpoint.after")


async def _confirmed(ctx: Context, source_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The committed rows whose document record really says so. The hint index must never claim a
    document its record does not (a lost record write would otherwise hide the document from every later
    discovery); a row left out only costs a fetch next run."""
    limit = asyncio.Semaphore(16)

    async def ok(row: dict[str, Any]) -> bool:
        if row.get("deleted"):
            return True
        async with limit:
            rec = await records.read_doc(ctx.store, source_id, row["doc_id"])
        return rec is not None and rec.has_text(row.get("content_hash"))

    keep = await asyncio.gather(*(ok(row) for row in rows))
    return [row for row, good in zip(rows, keep, strict=True) if good]


async def finish_source(ctx: Context, run_id: str, result: SourceResult, high_water: str | None,
                        dry_run: bool, full_refresh: bool = False) -> None:
    """Record the outcome on the checkpoint and release the claim. The high-water mark only moves
    when the source did not fail. The run's staged batch data for this source is deleted either way
    (it held document bodies and vectors that now live in the corpus, or that a dry run never keeps)."""
    staging = layout.source_staging_prefix(run_id, result.source_id)
    if not dry_run:
        names = [name async for name in ctx.store.list_names(staging) if name.endswith(f"/{COMMITTED}.jsonl")]
        limit = asyncio.Semaphore(16)

        async def read(name: str) -> list[dict[str, Any]]:
            async with limit:
                return await ctx.store.read_jsonl(name)

        committed = [row for rows in await asyncio.gather(*(read(n) for n in names)) for row in rows]
        committed = await _confirmed(ctx, result.source_id, committed)
        await failures.forget(ctx.store, result.source_id, {row["doc_id"] for row in committed})
        rebuild = full_refresh and result.status == "completed"
        await hints.merge(ctx.store, result.source_id, committed, replace=rebuild)
    await ctx.store.delete_prefix(staging)
    await record.record_source(ctx.store, run_id, result.model_copy(update={"phase": "done"}))
    if dry_run:
        return
    cp = await records.read_checkpoint(ctx.store, result.source_id)
    changes: dict[str, Any] = {"last_run_id": run_id, "last_status": result.status, "counts": result.counts}
    if result.started_at and result.finished_at:
        changes["last_seconds"] = round((result.finished_at - result.started_at).total_seconds(), 1)
    if result.status in ("completed", "partial"):
        changes.update(last_success_at=datetime.now(UTC), reset_requested=False, last_error=None)
        if high_water is not None:
            changes["high_water"] = high_water
    else:
        changes["last_error"] = result.message or (result.errors[0].reason if result.errors else None)
        changes["high_water"] = cp.high_water
    await records.release_source(ctx.store, result.source_id, run_id, **changes)
    crashpoint("source.finished")

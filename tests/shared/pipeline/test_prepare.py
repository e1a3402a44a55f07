"""The prepare activity's work: fetch (and extract) a batch, then chunk only when it has new or changed
documents — real folder source, real Azurite, hashing embedder."""

from __future__ import annotations

from pathlib import Path

from shared.models import BatchRef, DiscoverInput
from shared.pipeline import commit, discover, embed, prepare
from shared.pipeline.context import Context
from shared.pipeline.staging import read_stage
from tests.shared.pipeline.test_stages import write_docs


async def discovered(ctx: Context, run_id: str, *, full_refresh: bool = False) -> BatchRef:
    found = await discover.discover(ctx, DiscoverInput(run_id=run_id, source_id="notes", page=0, batch_size=50,
                                                       full_refresh=full_refresh))
    (batch_id,) = found.batches
    return BatchRef(run_id=run_id, source_id="notes", batch_id=batch_id)


async def test_new_documents_are_fetched_and_chunked_in_one_call(ctx: Context, docs: Path) -> None:
    write_docs(docs, 3)
    ref = await discovered(ctx, "run-1")
    prepared = await prepare.prepare(ctx, ref)
    assert (prepared.fetch.items, prepared.fetch.counts.added) == (3, 3)
    assert prepared.chunk is not None and prepared.chunk.items >= 3
    assert len(await read_stage(ctx.store, ref, "texts")) == 3  # both stages staged, as before
    assert len(await read_stage(ctx.store, ref, "chunks")) == prepared.chunk.items


async def test_unchanged_documents_and_dry_runs_are_not_chunked(ctx: Context, docs: Path) -> None:
    write_docs(docs, 2)
    ref = await discovered(ctx, "run-1")
    await prepare.prepare(ctx, ref)
    await embed.embed(ctx, ref)
    await commit.commit(ctx, ref)
    again = await discovered(ctx, "run-2", full_refresh=True)  # the hint index would skip them: look again
    prepared = await prepare.prepare(ctx, again)
    assert (prepared.fetch.counts.unchanged, prepared.chunk) == (2, None)  # only their hints get committed
    write_docs(docs, 3)
    dry = await discovered(ctx, "run-3")
    prepared = await prepare.prepare(ctx, dry.model_copy(update={"dry_run": True}))
    assert prepared.fetch.counts.added == 1 and prepared.chunk is None  # a dry run classifies, nothing more

"""Batches sized by work. A source's first page ramps up to full batches (the embedder starts early). The
embed stage is bounded per call (``HARVEST_EMBED_MAX_TOKENS``, ``HARVEST_EMBED_MAX_SECONDS``): a batch whose
chunks exceed one call's budget is embedded over several calls, each staging what it made, with the same
vectors as one unbounded call; a call after the last one finds nothing left. Against real Azurite with the
stage functions themselves (hashing embedder)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from shared.config.manifest import load_manifest
from shared.models import BatchRef, DiscoverInput, StageResult
from shared.pipeline import chunk, discover, embed, fetch
from shared.pipeline.context import Context, split_limits
from shared.pipeline.embed import EMBED_BATCH, take
from shared.pipeline.staging import read_stage
from tests.shared.pipeline.test_stages import write_docs


async def staged_batch(ctx: Context, run_id: str) -> BatchRef:
    found = await discover.discover(ctx, DiscoverInput(run_id=run_id, source_id="notes", page=0, batch_size=50))
    (batch_id,) = found.batches
    ref = BatchRef(run_id=run_id, source_id="notes", batch_id=batch_id)
    await fetch.fetch(ctx, ref)
    await chunk.chunk(ctx, ref)
    return ref


async def embed_all(ctx: Context, ref: BatchRef) -> list[StageResult]:
    calls = [await embed.embed(ctx, ref)]
    while calls[-1].more:
        calls.append(await embed.embed(ctx, ref))
        assert len(calls) < 100
    return calls


def with_budget(ctx: Context, **budget: Any) -> Context:
    return Context(settings=ctx.settings.model_copy(update=budget), store=ctx.store)


def test_take_fits_the_token_budget_and_always_takes_one() -> None:
    todo = [("a", "", 40), ("b", "", 40), ("c", "", 40)]
    assert [take(todo, n) for n in (10, 40, 79, 80, 1000)] == [1, 1, 1, 2, 3]


async def test_a_batch_over_the_token_budget_is_embedded_over_several_calls(ctx: Context, docs: Path) -> None:
    write_docs(docs, 12)
    small = with_budget(ctx, embed_max_tokens=1000)
    ref = await staged_batch(small, "run-small")
    chunks = await read_stage(ctx.store, ref, "chunks")
    calls = await embed_all(small, ref)
    tokens = sum({c["hash"]: c["tokens"] for c in chunks}.values())
    assert len(calls) >= math.ceil(tokens / 1000) >= 3
    assert [c.more for c in calls] == [True] * (len(calls) - 1) + [False]
    assert sum(c.counts.chunks_embedded for c in calls) == len(chunks)
    assert [c.items for c in calls] == sorted(c.items for c in calls)  # each call stages all made so far

    whole = await staged_batch(ctx, "run-whole")
    (one,) = await embed_all(ctx, whole)
    assert one.counts.chunks_embedded == len(chunks)
    assert await read_stage(ctx.store, ref, "vectors") == await read_stage(ctx.store, whole, "vectors")

    again = await embed.embed(small, ref)  # a retried last call: nothing left, nothing embedded twice
    assert (again.more, again.counts.chunks_embedded, again.items) == (False, 0, len(chunks))


async def test_the_time_budget_stops_a_call_after_one_sub_batch(ctx: Context, docs: Path) -> None:
    write_docs(docs, 20)
    hurried = with_budget(ctx, embed_max_seconds=1e-6)
    ref = await staged_batch(hurried, "run-hurried")
    unique = {c["hash"] for c in await read_stage(ctx.store, ref, "chunks")}
    calls = await embed_all(hurried, ref)
    assert len(unique) > EMBED_BATCH and len(calls) == math.ceil(len(unique) / EMBED_BATCH)


def test_a_first_page_ramps_up_to_full_batches() -> None:
    from shared.pipeline.discover import batch_bounds

    sizes = lambda bounds: [end - start for start, end in bounds]  # noqa: E731
    assert sizes(batch_bounds(700, 256, ramp=True)) == [32, 128, 256, 256, 28]
    assert sizes(batch_bounds(700, 256, ramp=False)) == [256, 256, 188]
    assert sizes(batch_bounds(20, 256, ramp=True)) == [20]
    assert sizes(batch_bounds(14, 1, ramp=True)) == [1] * 14  # small batches: no ramp
    assert sizes(batch_bounds(40, 64, ramp=True)) == [32, 8] and batch_bounds(0, 64, ramp=True) == []


def test_parallel_batches_split_a_sources_rate_limit_and_concurrency(tmp_path: Path) -> None:
    manifest = tmp_path / "sources.yaml"
    manifest.write_text("sources:\n"
                        "  - {id: polite, kind: rss, url: 'https://example.org/feed.xml', rate_limit: 2,"
                        " concurrency: 6}\n"
                        "  - {id: tiny, kind: rss, url: 'https://example.org/t.xml', concurrency: 2}\n"
                        "  - {id: local, kind: folder, path: '.'}\n")
    m = load_manifest(manifest)
    polite = split_limits(m.get("polite"), 4)
    assert (polite.rate_limit, polite.concurrency) == (0.5, 1)  # 4 batches x 0.5/s = the source's 2/s
    assert split_limits(m.get("polite"), 3).concurrency == 2  # 3 x 2 = 6 in flight at most
    assert split_limits(m.get("polite"), 1) is m.get("polite")
    assert split_limits(m.get("tiny"), 4).concurrency == 1  # never below one request per batch
    assert split_limits(m.get("local"), 4) is m.get("local")  # nothing to split
    assert (m.get("polite").rate_limit, m.get("polite").concurrency) == (2, 6)  # the manifest is untouched

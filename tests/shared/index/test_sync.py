"""The publish stage against both targets (LanceDB; Azure AI Search through the stand-in): after every
change the index's chunk ids equal the corpus's live chunk ids (``harvest export``), an unchanged pass
sends nothing, and only acknowledged keys reach the ledger."""

from __future__ import annotations

from shared.corpus.retire import retire_source
from shared.index import generations, ledger
from shared.index.azure_search import AzureSearchTarget
from shared.index.base import IndexTarget
from shared.pipeline.context import Context
from tests.shared.index.conftest import Corpus, indexed, paragraphs, run_publish


async def fill(corpus: Corpus, docs: int = 12) -> None:
    for d in range(docs):
        await corpus.put(f"doc-{d:02d}", paragraphs(d, 2 + d % 4))


async def test_first_publish_then_an_unchanged_pass_sends_nothing(ctx: Context, corpus: Corpus,
                                                                   target: IndexTarget, fake: object) -> None:
    await fill(corpus)
    live = await corpus.live_ids()
    first = await run_publish(ctx, target)
    assert (first.upserted, first.deleted, first.failed) == (len(live), 0, 0)
    assert await indexed(ctx, target) == live
    requests = len(fake[0].requests) if isinstance(target, AzureSearchTarget) else 0  # type: ignore[index]
    again = await run_publish(ctx, target)
    assert (again.upserted, again.deleted, again.unchanged) == (0, 0, 12)
    if isinstance(target, AzureSearchTarget):  # not one document request: the ledger answered everything
        docs = [r for r in fake[0].requests[requests:] if "/docs" in r[1]]  # type: ignore[index]
        assert docs == []
    assert await indexed(ctx, target) == live


async def test_edits_and_deletions_converge_and_remove_stale_tail_chunks(ctx: Context, corpus: Corpus,
                                                                        target: IndexTarget) -> None:
    await fill(corpus)
    await run_publish(ctx, target)
    before = await corpus.live_ids()
    await corpus.put("doc-01", paragraphs(1, 1, version=1))  # 3 chunks → 1: two stale tail chunks
    await corpus.put("doc-02", paragraphs(2, 6, version=1))  # 4 → 6
    await corpus.put("doc-03", paragraphs(3, 2, version=1))
    await corpus.delete("doc-04")
    await corpus.delete("doc-05")
    live = await corpus.live_ids()
    result = await run_publish(ctx, target)
    assert await indexed(ctx, target) == live
    assert result.upserted == len(live - before)  # only the changed documents' chunks
    assert result.deleted == len(before - live)  # every old chunk of edited and deleted documents
    assert (await run_publish(ctx, target)).upserted == 0


async def test_a_reembedded_version_is_sent_again_under_the_same_keys(ctx: Context, corpus: Corpus,
                                                                     target: IndexTarget) -> None:
    await fill(corpus, 3)
    await run_publish(ctx, target)
    await corpus.put("doc-01", paragraphs(1, 3), reembed=True)  # same text, new version blob
    result = await run_publish(ctx, target)
    assert (result.upserted, result.deleted) == (3, 0)
    assert await indexed(ctx, target) == await corpus.live_ids()


async def test_a_retired_source_leaves_the_index(ctx: Context, corpus: Corpus, target: IndexTarget) -> None:
    await fill(corpus, 5)
    other = Corpus(ctx, source_id="other")
    await other.put("x", paragraphs(9, 2))
    await run_publish(ctx, target)
    await run_publish(ctx, target, "other")
    await retire_source(ctx.store, "notes")
    result = await run_publish(ctx, target)
    assert result.deleted > 0
    assert await indexed(ctx, target) == await corpus.live_ids() == await other.live_ids()


async def test_a_dry_run_counts_and_writes_nothing(ctx: Context, corpus: Corpus, target: IndexTarget) -> None:
    await fill(corpus, 4)
    planned = await run_publish(ctx, target, dry_run=True)
    assert planned.upserted == len(await corpus.live_ids())
    assert await indexed(ctx, target) == set()
    assert (await generations.read_state(ctx.store, target)).active is None


async def test_a_deadline_splits_the_pass_and_the_cursor_resumes_it(ctx: Context, corpus: Corpus,
                                                                   target: IndexTarget) -> None:
    await fill(corpus, 70)  # more than one group of documents per shard in places
    from shared.index.sync import publish
    from tests.shared.index.conftest import EMBEDDER

    cursor, calls, sent = None, 0, 0
    while True:
        part = await publish(ctx.store, target, "notes", model_id=EMBEDDER.model_id, dim=EMBEDDER.dim,
                             cursor=cursor, max_seconds=0.0)  # stop after each group
        calls, sent = calls + 1, sent + part.upserted
        if part.cursor is None:
            break
        cursor = part.cursor
    assert calls > 2
    assert sent == len(await corpus.live_ids())
    assert await indexed(ctx, target) == await corpus.live_ids()
    status = await ledger.read_status(ctx.store, generations.target_id(target),
                                      (await generations.read_state(ctx.store, target)).active.id, "notes")  # type: ignore[union-attr]
    assert status is not None and status["live"] == 70 and status["complete"]

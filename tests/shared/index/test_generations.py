"""Index generations: a model change builds a new index while readers keep the old one whole, then switches
them in one step; a rebuild does the same for the same model; an index lost behind Harvest's back is
noticed and rebuilt, never trusted."""

from __future__ import annotations

from shared.index import generations
from shared.index.base import IndexTarget
from shared.index.check import drift, search
from shared.pipeline.context import Context
from tests.shared.index.conftest import EMBEDDER, Corpus, indexed, paragraphs, run_publish
from tests.shared.index.test_sync import fill

NEW_MODEL = "test/other-model@384"


async def test_a_model_change_builds_a_new_index_and_switches_readers_when_complete(
        ctx: Context, corpus: Corpus, target: IndexTarget) -> None:
    await fill(corpus, 6)
    other = Corpus(ctx, source_id="other")
    await other.put("x", paragraphs(8, 2))
    for sid in ("notes", "other"):
        await run_publish(ctx, target, sid)
    old = (await generations.read_state(ctx.store, target)).active
    assert old is not None and await target.reader_index() is not None
    before = await target.chunk_ids(target.physical(old.generation(), active=True))

    # the embedder changes: "notes" is re-embedded and published, "other" not yet
    # (the corpus helper writes versions with the context's embedder id: ``_relabel`` switches it by hand)
    for d in range(6):
        await corpus.put(f"doc-{d:02d}", paragraphs(d, 2 + d % 4))
    await _relabel(ctx, "notes", NEW_MODEL)
    first = await run_publish(ctx, target, "notes", model_id=NEW_MODEL, dim=384)
    state = await generations.read_state(ctx.store, target)
    assert first.switched is None and state.next is not None and state.active == old
    assert await target.chunk_ids(target.physical(old.generation(), active=True)) == before  # readers: old, whole
    assert await generations.complete(ctx.store, target, state.next, state.active) == ["other"]

    await _relabel(ctx, "other", NEW_MODEL)
    last = await run_publish(ctx, target, "other", model_id=NEW_MODEL, dim=384)
    assert last.switched is not None
    state = await generations.read_state(ctx.store, target)
    assert state.next is None and state.active is not None and state.active.model_id == NEW_MODEL
    assert await target.reader_index() == last.switched
    assert await indexed(ctx, target) == await corpus.live_ids() | await other.live_ids()
    assert state.retired == []  # the old generation's ledger and index are gone


async def _relabel(ctx: Context, source_id: str, model: str) -> None:
    """Mark the source's live versions as embedded by ``model`` (what a run with that embedder writes)."""
    from shared.storage import layout

    async for name in ctx.store.list_names(layout.docs_prefix(source_id)):
        def change(current: dict, model: str = model) -> dict:  # type: ignore[type-arg]
            return {**current, "model": model}

        await ctx.store.update_json(name, change)
        value, _ = await ctx.store.read_json(name)
        rows = await ctx.store.read_jsonl(value["current"])
        await ctx.store.write_jsonl(value["current"], [{**r, "model": model} for r in rows])


async def test_rebuild_fills_a_fresh_index_then_switches(ctx: Context, corpus: Corpus, target: IndexTarget) -> None:
    from shared.index.check import rebuild

    await fill(corpus, 5)
    await run_publish(ctx, target)
    old = (await generations.read_state(ctx.store, target)).active
    out = await rebuild(ctx, target)
    state = await generations.read_state(ctx.store, target)
    assert out["switched_to"] and state.active is not None and state.active.id != old.id  # type: ignore[union-attr]
    assert await indexed(ctx, target) == await corpus.live_ids()
    hits, note = await search(ctx, target, "bees honey glacier", 3)
    assert note is None and len(hits) == 3 and all(h.chunk["source_id"] == "notes" for h in hits)


async def test_an_index_lost_behind_harvests_back_is_made_anew(ctx: Context, corpus: Corpus,
                                                              target: IndexTarget) -> None:
    await fill(corpus, 4)
    await run_publish(ctx, target)
    state = await generations.read_state(ctx.store, target)
    assert state.active is not None
    await target.drop(target.physical(state.active.generation(), active=True))
    result = await run_publish(ctx, target)  # the ledger says "all there"; the index says otherwise
    assert result.upserted == len(await corpus.live_ids())
    found = await drift(ctx, target, state.active, target.physical(state.active.generation(), active=True))
    assert found.drift == 0 and found.live == len(await corpus.live_ids())
    assert EMBEDDER.model_id == state.active.model_id


async def test_verify_finds_an_index_edited_behind_harvests_back_and_repair_fixes_it(
        ctx: Context, corpus: Corpus, target: IndexTarget) -> None:
    from shared.index.check import repair
    from tests.shared.index.conftest import EMBEDDER as E

    await fill(corpus, 5)
    await run_publish(ctx, target)
    state = await generations.read_state(ctx.store, target)
    assert state.active is not None
    physical = target.physical(state.active.generation(), active=True)
    live = sorted(await corpus.live_ids())
    await target.delete(physical, live[:2])  # lost keys the ledger still counts as acknowledged
    stray = {"chunk_id": "f" * 32, "doc_id": "gone", "source_id": "notes", "url": "u", "title": "t", "ordinal": 0,
             "text": "stray", "content_hash": "h", "model": E.model_id, "run_id": "r", "created_at": "x",
             "vector": [0.0] * 383 + [1.0]}
    await target.upsert(physical, [stray])  # a key no ledger names
    found = await drift(ctx, target, state.active, physical)
    assert (len(found.missing), found.extra) == (2, ["f" * 32])
    assert (await run_publish(ctx, target)).upserted == 0  # the ledger alone cannot see it: verify can
    out = await repair(ctx, target)
    assert out["drift"]["drift"] == 0 and out["extra_deleted"] == 1
    assert await indexed(ctx, target) == set(live)

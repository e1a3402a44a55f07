"""Publishing from the batches (``shared.index.batch``) against both targets: what a batch's commit wrote is in
the index when the commit returns, the end-of-source pass then reads no record and no version blob (only
listings and ledger shards) and sends nothing, and the index still equals the live chunks after edits,
touches, deletions, refused keys and a model change."""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.index import generations, ledger
from shared.index.azure_search import KEY_ROUNDS, AzureSearchTarget
from shared.index.base import IndexTarget
from shared.index.batch import Committed, publish_batch
from shared.index.keys import encode_key
from shared.index.sync import publish
from shared.models import PublishResult
from shared.pipeline.context import Context
from shared.storage import layout
from shared.storage.blobs import BlobStore
from tests.shared.index.conftest import EMBEDDER, Corpus, indexed, paragraphs, run_publish
from tests.shared.index.fake_search import FakeSearch

NEW_MODEL = "test/other-model@384"


class CountingStore(BlobStore):
    """The test's container, counting the blobs read by kind (document records, version blobs, ledgers)."""

    reads: Counter[str]

    @classmethod
    def of(cls, ctx: Context) -> CountingStore:
        store = cls.connect(container=ctx.settings.container, connection_string=ctx.settings.storage_connection)
        store.reads = Counter()
        return store

    def _count(self, name: str) -> None:
        kind = ("record" if name.startswith("state/") and "/docs/" in name else "version" if name.startswith("corpus/")
                else "ledger" if name.startswith("index/") and not name.endswith("/state.json") else "other")
        self.reads[kind] += 1

    async def read_bytes(self, name: str) -> bytes | None:
        self._count(name)
        return await super().read_bytes(name)

    async def read_json(self, name: str) -> tuple[Any, str | None]:
        self._count(name)
        return await super().read_json(name)


async def batch(ctx: Context, target: IndexTarget, committed: list[Committed | None], *,
                model_id: str = EMBEDDER.model_id, store: BlobStore | None = None) -> PublishResult:
    return await publish_batch(store or ctx.store, target, "notes", [c for c in committed if c is not None],
                               model_id=model_id, dim=EMBEDDER.dim)


async def final_pass(ctx: Context, target: IndexTarget, **options: Any) -> tuple[PublishResult, Counter[str]]:
    """The end-of-source pass through a store that counts what it reads."""
    store = CountingStore.of(ctx)
    result = PublishResult()
    cursor = None
    while True:
        part = await publish(store, target, "notes", model_id=options.get("model_id", EMBEDDER.model_id),
                             dim=EMBEDDER.dim, cursor=cursor)
        result.upserted, result.deleted = result.upserted + part.upserted, result.deleted + part.deleted
        result.unchanged += part.unchanged
        result.failed += part.failed
        if part.cursor is None:
            return result, store.reads
        cursor = part.cursor


async def test_batches_publish_what_they_commit_and_the_final_pass_reads_only_listings_and_ledgers(
        ctx: Context, corpus: Corpus, target: IndexTarget) -> None:
    first = [await corpus.put(f"doc-{d:02d}", paragraphs(d, 2 + d % 4)) for d in range(10)]
    second = [await corpus.put(f"doc-{d:02d}", paragraphs(d, 2)) for d in range(10, 20)]
    one, two = await batch(ctx, target, first), await batch(ctx, target, second)
    live = await corpus.live_ids()
    assert one.upserted + two.upserted == len(live) and one.failed == two.failed == 0
    assert await indexed(ctx, target) == live  # in the index as soon as the commit returned

    result, reads = await final_pass(ctx, target)
    assert (result.upserted, result.deleted, result.unchanged) == (0, 0, 20)
    assert (reads["record"], reads["version"]) == (0, 0)  # listings and the 16 ledger shards only
    assert reads["ledger"] == len(ledger.SHARDS)
    assert await indexed(ctx, target) == live


async def test_an_edit_in_a_later_batch_replaces_the_old_chunks_and_tail(ctx: Context, corpus: Corpus,
                                                                         target: IndexTarget) -> None:
    await batch(ctx, target, [await corpus.put(f"doc-{d:02d}", paragraphs(d, 4)) for d in range(6)])
    before = await corpus.live_ids()
    edits = [await corpus.put("doc-01", paragraphs(1, 1, version=1)),  # 4 chunks → 1: three stale tail chunks
             await corpus.put("doc-02", paragraphs(2, 6, version=1))]
    result = await batch(ctx, target, edits)
    live = await corpus.live_ids()
    assert (result.upserted, result.deleted) == (len(live - before), len(before - live))
    assert await indexed(ctx, target) == live
    again, reads = await final_pass(ctx, target)
    assert (again.upserted, again.deleted, again.unchanged, reads["record"], reads["version"]) == (0, 0, 6, 0, 0)


async def test_touched_documents_only_move_their_etag_and_the_final_pass_skips_them(
        ctx: Context, corpus: Corpus, target: IndexTarget) -> None:
    await batch(ctx, target, [await corpus.put(f"doc-{d:02d}", paragraphs(d, 2)) for d in range(8)])
    touched = [await corpus.touch(f"doc-{d:02d}") for d in range(8)]  # new change hints: new record ETags
    result = await batch(ctx, target, touched)
    assert (result.upserted, result.deleted) == (0, 0)
    again, reads = await final_pass(ctx, target)
    assert (again.unchanged, reads["record"], reads["version"]) == (8, 0, 0)
    assert await indexed(ctx, target) == await corpus.live_ids()


async def test_a_touched_document_whose_entry_is_not_settled_is_left_to_the_final_pass(
        ctx: Context, corpus: Corpus, target: IndexTarget) -> None:
    await corpus.put("doc-00", paragraphs(0, 3))  # committed, but its batch did not publish it
    result = await batch(ctx, target, [await corpus.touch("doc-00")])
    assert result.upserted == 0 and await indexed(ctx, target) == set()  # it cannot: no rows in memory
    again, reads = await final_pass(ctx, target)
    assert (again.upserted, reads["record"], reads["version"]) == (3, 1, 1)
    assert await indexed(ctx, target) == await corpus.live_ids()


async def test_deletions_are_the_final_pass_s_and_it_reads_only_what_changed(ctx: Context, corpus: Corpus,
                                                                            target: IndexTarget) -> None:
    await batch(ctx, target, [await corpus.put(f"doc-{d:02d}", paragraphs(d, 2)) for d in range(6)])
    await corpus.delete("doc-03")
    result, reads = await final_pass(ctx, target)
    assert (result.deleted, result.unchanged, reads["record"], reads["version"]) == (2, 5, 1, 0)
    assert await indexed(ctx, target) == await corpus.live_ids()


async def test_keys_the_index_refuses_stay_pending_and_the_final_pass_sends_them(
        ctx: Context, corpus: Corpus, fake: tuple[FakeSearch, str]) -> None:
    service, url = fake
    target = AzureSearchTarget(url, "chunks", api_key=service.api_key, retry_total=1, key_backoff=0.01)
    committed = [await corpus.put(f"doc-{d:02d}", paragraphs(d, 3)) for d in range(6)]
    live = sorted(await corpus.live_ids())
    service.fail_keys, service.fail_times = {encode_key(live[0])}, KEY_ROUNDS + 1
    result = await batch(ctx, target, committed)
    assert result.failed == 1 and await indexed(ctx, target) == set(live) - {live[0]}
    again, reads = await final_pass(ctx, target)  # the service has recovered
    assert again.failed == 0 and again.unchanged == 5 and reads["record"] == 1  # only the pending document
    assert await indexed(ctx, target) == set(live)
    await target.close()


async def test_during_a_model_change_batches_build_the_new_index_and_readers_keep_the_old_one(
        ctx: Context, corpus: Corpus, target: IndexTarget) -> None:
    await batch(ctx, target, [await corpus.put(f"doc-{d:02d}", paragraphs(d, 2)) for d in range(4)])
    old = (await generations.read_state(ctx.store, target)).active
    assert old is not None
    before = await target.chunk_ids(target.physical(old.generation(), active=True))
    # the embedder changes; one batch re-embeds doc-00 and doc-01 (``_relabeled``: what a run with it commits)
    for d in (0, 1):
        await corpus.put(f"doc-{d:02d}", paragraphs(d, 2, version=1))
    result = await batch(ctx, target, [await _relabeled(ctx, f"doc-{d:02d}") for d in (0, 1)], model_id=NEW_MODEL)
    state = await generations.read_state(ctx.store, target)
    assert state.next is not None and state.next.model_id == NEW_MODEL and state.active == old
    assert await target.chunk_ids(target.physical(old.generation(), active=True)) == before  # frozen, whole
    assert result.upserted == 4 and await indexed(ctx, target) == await corpus.live_ids() - before
    again, reads = await final_pass(ctx, target, model_id=NEW_MODEL)  # doc-02/03: still the old model
    assert (again.upserted, reads["version"]) == (0, 0)
    status = await ledger.read_status(ctx.store, generations.target_id(target), state.next.id, "notes")
    assert status is not None and (status["other_model"], status["complete"]) == (2, False)
    assert (await generations.read_state(ctx.store, target)).active == old  # not switched


async def _relabeled(ctx: Context, doc_id: str) -> Committed:
    """Mark the document's live version as embedded by ``NEW_MODEL``; what its commit hands on, read back."""
    from shared.storage.records import parse_doc

    name = layout.doc_record_blob("notes", doc_id)
    await ctx.store.update_json(name, lambda current: {**current, "model": NEW_MODEL})
    value, etag = await ctx.store.read_json(name)
    lines = [{**r, "model": NEW_MODEL} for r in await ctx.store.read_jsonl(value["current"])]
    await ctx.store.write_jsonl(value["current"], lines)
    return Committed(record=parse_doc(value, name), etag=(etag or "").strip('"'), lines=lines)


async def test_after_batches_published_everything_the_final_pass_still_optimizes_lancedb(
        ctx: Context, corpus: Corpus, tmp_path: Any) -> None:
    """The pass that finds everything in line has written nothing itself, yet the table needs its full-text
    index and its fragments compacted: the batches wrote them."""
    from shared.index.lancedb_target import LanceDBTarget

    target = LanceDBTarget(tmp_path / "lancedb", "chunks")
    for part in range(3):
        await batch(ctx, target, [await corpus.put(f"doc-{part}{d}", paragraphs(d, 2)) for d in range(4)])
    table = target._table("chunks")
    assert not any(i.index_type == "FTS" for i in table.list_indices())
    result = await run_publish(ctx, target)
    assert result.upserted == 0
    table = target._table("chunks")
    fts = next(i for i in table.list_indices() if i.index_type == "FTS")
    assert table.index_stats(fts.name).num_unindexed_rows == 0
    version = table.version
    await run_publish(ctx, target)  # nothing new since: no new table version
    assert target._table("chunks").version == version
    await target.close()

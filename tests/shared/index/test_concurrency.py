"""Many writers at once: a run's batch lanes publish into one source's ledger shards and one index at the same
time, the first of them setting the index generation up; other processes write the same LanceDB directory."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from shared.index import generations, ledger
from shared.index.azure_search import AzureSearchTarget
from shared.index.base import Generation, IndexTarget
from shared.index.lancedb_target import LanceDBTarget
from shared.pipeline.context import Context
from tests.conftest import REPO_ROOT
from tests.shared.index.conftest import EMBEDDER, Corpus, indexed, paragraphs, run_publish
from tests.shared.index.fake_search import FakeSearch
from tests.shared.index.test_batch import batch, final_pass


async def test_lanes_publishing_at_once_into_a_fresh_index_converge(ctx: Context, corpus: Corpus, target: IndexTarget,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    lanes = [[await corpus.put(f"doc-{lane}{d:02d}", paragraphs(d, 2 + d % 3)) for d in range(12)]
             for lane in range(4)]  # 48 documents: every lane writes into most of the 16 ledger shards
    with caplog.at_level(logging.WARNING, logger="harvest.index"):
        results = await asyncio.gather(*(batch(ctx, target, committed) for committed in lanes))
    assert not caplog.records  # no lane reset what another had set up
    live = await corpus.live_ids()
    assert sum(r.upserted for r in results) == len(live) and all(r.failed == 0 for r in results)
    assert await indexed(ctx, target) == live
    again, reads = await final_pass(ctx, target)
    assert (again.upserted, again.unchanged, reads["record"], reads["version"]) == (0, 48, 0, 0)


async def test_a_writer_with_a_stale_view_of_a_new_generation_does_not_reset_it(ctx: Context, corpus: Corpus,
                                                                               target: IndexTarget) -> None:
    """A lane read the index state before another lane recorded the index it made and published into it:
    the index then holds rows its stale state does not name. It must look again, not drop the index and the
    ledger (which would lose what the other lane's ledger says the index holds)."""
    stale = generations.planned(generations.IndexState(active=generations._new(EMBEDDER.model_id, EMBEDDER.dim,
                                generations.IndexState())), target, EMBEDDER.model_id, EMBEDDER.dim)
    assert stale is not None and stale.gen.instance is None
    await batch(ctx, target, [await corpus.put(f"doc-{d:02d}", paragraphs(d, 2)) for d in range(6)])
    recorded = (await generations.read_state(ctx.store, target)).active
    assert recorded is not None and recorded.id == stale.gen.id and recorded.instance is not None
    where = await generations._ensure(ctx.store, target, stale)
    assert where.gen.instance == recorded.instance
    assert await indexed(ctx, target) == await corpus.live_ids()  # nothing dropped
    entries = [await ledger.read_shard(ctx.store, generations.target_id(target), recorded.id, "notes", s)
               for s in ledger.SHARDS]
    assert sum(len(e) for e in entries) == 6  # nor the ledger


async def test_an_empty_index_a_peer_made_but_did_not_record_is_adopted(ctx: Context, corpus: Corpus,
                                                                       target: IndexTarget) -> None:
    state = generations.IndexState(active=generations._new(EMBEDDER.model_id, EMBEDDER.dim, generations.IndexState()))
    where = generations.planned(state, target, EMBEDDER.model_id, EMBEDDER.dim)
    assert where is not None
    made = await target.ensure(where.physical, where.gen.generation())  # the peer, before it recorded it
    await batch(ctx, target, [await corpus.put("doc-00", paragraphs(0, 2))])
    recorded = (await generations.read_state(ctx.store, target)).active
    assert recorded is not None and recorded.instance == made
    assert await indexed(ctx, target) == await corpus.live_ids()


async def test_an_index_with_rows_no_state_names_is_still_made_anew(ctx: Context, corpus: Corpus,
                                                                    target: IndexTarget) -> None:
    """A fresh corpus container beside an old index (its state gone): its rows are nobody's, so it is reset."""
    await corpus.put("doc-00", paragraphs(0, 2))
    await run_publish(ctx, target)
    await ctx.store.delete_prefix("index/")  # the state and the ledger are gone, the index is not
    await batch(ctx, target, [await corpus.put("doc-01", paragraphs(1, 2))])
    assert await indexed(ctx, target) == await _ids_of(corpus, "doc-01")  # doc-00's rows went with the old index


async def _ids_of(corpus: Corpus, doc_id: str) -> set[str]:
    from shared.corpus.read import iter_chunks

    return {r["chunk_id"] async for r in iter_chunks(corpus.ctx.store) if r["doc_id"] == doc_id}


async def test_writers_creating_one_azure_index_at_once_agree_on_its_marker(fake: tuple[FakeSearch, str]) -> None:
    """Each looks, finds no index and creates it: with ``If-None-Match: *`` one wins and the others (412) take
    its marker; unconditional, the last one's marker would replace the first's under the first's ledger."""
    service, url = fake
    writers = [AzureSearchTarget(url, "chunks", api_key=service.api_key, retry_total=1) for _ in range(4)]
    for name in ("chunks-a", "chunks-b", "chunks-c"):
        gen = Generation(id=name, model_id="m", dim=4)
        made = await asyncio.gather(*(w.ensure(name, gen) for w in writers))
        assert set(made) == {await writers[0].instance(name)}, name
    for w in writers:
        await w.close()


def test_processes_upserting_the_same_keys_into_one_lancedb_leave_no_duplicates(tmp_path: Path) -> None:
    """Lance resolves concurrent commits of distinct keys, but ``merge_insert`` calls inserting the same new keys
    from several processes can each insert them. Without the file lock this test found 1,700 rows for 1,500 keys
    in two of three runs (whether it happens depends on how the processes interleave)."""
    where = tmp_path / "lancedb"
    target = LanceDBTarget(where, "chunks")
    asyncio.run(target.ensure("chunks", Generation(id="g", model_id="m", dim=4)))
    procs = [subprocess.Popen([sys.executable, "-m", "tests.shared.index.lance_writer", str(where), f"p{i}", "30"],
                              cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True) for i in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
    ids = target._table("chunks").to_arrow().column("chunk_id").to_pylist()
    assert len(ids) == len(set(ids)) == 30 * 50

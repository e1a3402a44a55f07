"""Issue 12 item 12: a retired source's documents leave export and query; tombstones and history stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.corpus.read import iter_chunks
from shared.corpus.retire import retire_source
from shared.errors import ClaimHeldError
from shared.pipeline.context import Context
from shared.storage import hints, layout, records
from tests.shared.pipeline.hosted import RunSource

PARA = "Kelp forests shelter fish, otters and urchins along cold, rocky coasts with strong currents. "


async def test_retiring_a_source_tombstones_its_documents_and_keeps_history(run_source: RunSource,
                                                                            ctx: Context, docs: Path) -> None:
    for i in range(3):
        (docs / f"doc-{i}.md").write_text(f"# Doc {i}\n\n{PARA * 3} {i}\n")
    await run_source(ctx, "run-1")
    before = {rec.doc_id: rec.current for rec in await records.list_docs(ctx.store, "notes")}
    assert len([c async for c in iter_chunks(ctx.store)]) > 0

    done = await retire_source(ctx.store, "notes", reason="feed closed")
    assert (done.retired, done.already_deleted) == (3, 0)
    assert [c async for c in iter_chunks(ctx.store)] == []
    for doc_id, blob in before.items():
        rec = await records.read_doc(ctx.store, "notes", doc_id)
        assert rec is not None and rec.deleted and rec.current is None and rec.versions[-1].blob == blob
        assert blob is not None and await ctx.store.exists(blob)  # history kept until compaction
        assert await ctx.store.exists(layout.tombstone_blob("notes", doc_id, done.tombstone_run))
    assert all(e["deleted"] for e in (await hints.load(ctx.store, "notes")).values())
    cp = await records.read_checkpoint(ctx.store, "notes")
    assert cp.retired_at is not None and cp.retired_reason == "feed closed"

    again = await retire_source(ctx.store, "notes")
    assert (again.retired, again.already_deleted) == (0, 3)


async def test_a_source_a_run_is_processing_is_not_retired(ctx: Context, docs: Path) -> None:
    await records.claim_source(ctx.store, "notes", "run-9")
    with pytest.raises(ClaimHeldError, match="run-9"):  # permanent, as any claim held by another run
        await retire_source(ctx.store, "notes")


async def test_the_document_count_leaves_out_deleted_documents(run_source: RunSource, ctx: Context, docs: Path) -> None:
    """Issue 12: `/api/sources` counted a deleted document."""
    from shared.sources.info import describe

    for i in range(3):
        (docs / f"doc-{i}.md").write_text(f"# Doc {i}\n\n{PARA * 3} {i}\n")
    await run_source(ctx, "run-1")
    (docs / "doc-0.md").unlink()
    await run_source(ctx, "run-2")
    spec = ctx.manifest.get("notes")
    assert (await describe(ctx.store, spec))["document_count"] == 2
    hints._cache.clear()
    await ctx.store.delete(layout.hints_blob("notes"))  # no index: the records are read instead
    assert (await describe(ctx.store, spec))["document_count"] == 2
    await ctx.store.write_bytes(layout.checkpoint_blob("notes"), b"{")
    described = await describe(ctx.store, spec)
    assert layout.checkpoint_blob("notes") in described["checkpoint_error"]

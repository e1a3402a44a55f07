"""Compaction keeps the newest versions and the current one, and removes nothing a record points at."""

from __future__ import annotations

from pathlib import Path

from shared.corpus.read import iter_chunks
from shared.pipeline.compact import compact_page, compact_source
from shared.pipeline.context import Context
from shared.storage import records
from tests.shared.pipeline.hosted import RunSource


async def versions(ctx: Context, doc_id: str) -> list[str]:
    rec = await records.read_doc(ctx.store, "notes", doc_id)
    assert rec is not None
    return [v.blob for v in rec.versions]


async def test_keep_n_removes_old_versions_only(run_source: RunSource, ctx: Context, docs: Path) -> None:
    for i in range(4):
        (docs / "a.md").write_text(f"# A\n\nVersion {i} of the note about harbour pilots and buoys.\n")
        (docs / "b.md").write_text("# B\n\nA note that never changes, about tide tables.\n")
        await run_source(ctx, f"run-{i}")
    history = await versions(ctx, "a.md")
    assert len(history) == 4 and len(await versions(ctx, "b.md")) == 1
    export_before = [c async for c in iter_chunks(ctx.store)]

    result = await compact_source(ctx, "notes", keep=2)
    assert (result.documents, result.versions_removed, result.blobs_deleted) == (2, 2, 2)
    assert await versions(ctx, "a.md") == history[2:]
    assert not await ctx.store.exists(history[0]) and await ctx.store.exists(history[3])
    assert [c async for c in iter_chunks(ctx.store)] == export_before  # the current corpus is untouched

    again = await compact_source(ctx, "notes", keep=2)
    assert (again.versions_removed, again.blobs_deleted) == (0, 0)


async def test_unreferenced_blob_left_by_a_crash_is_swept(run_source: RunSource, ctx: Context, docs: Path) -> None:
    (docs / "a.md").write_text("# A\n\nFirst text about lighthouse keepers.\n")
    await run_source(ctx, "run-1")
    rec = await records.read_doc(ctx.store, "notes", "a.md")
    assert rec is not None and rec.current
    orphan = rec.current.replace(".jsonl", "-orphan.jsonl")
    await ctx.store.write_bytes(orphan, b"{}\n")
    result = await compact_source(ctx, "notes", keep=1)
    assert result.blobs_deleted == 1 and not await ctx.store.exists(orphan)
    assert await ctx.store.exists(rec.current)


async def test_a_source_is_compacted_page_by_page(run_source: RunSource, ctx: Context, docs: Path) -> None:
    for i in range(3):
        for name in ("a", "b", "c"):
            (docs / f"{name}.md").write_text(f"# {name}\n\nVersion {i} of the note {name} about canal locks.\n")
        await run_source(ctx, f"run-{i}")
    first = await compact_page(ctx, "notes", keep=1, page_size=2)
    assert (first.documents, first.pages, first.versions_removed) == (2, 1, 4) and first.continuation
    rest = await compact_page(ctx, "notes", keep=1, continuation=first.continuation, page_size=2)
    assert (rest.documents, rest.versions_removed, rest.blobs_deleted, rest.continuation) == (1, 2, 2, None)
    whole = await compact_source(ctx, "notes", keep=1, page_size=1)
    assert (whole.documents, whole.pages, whole.versions_removed) == (3, 3, 0)
    assert [len(await versions(ctx, d)) for d in ("a.md", "b.md", "c.md")] == [1, 1, 1]

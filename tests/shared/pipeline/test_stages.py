"""The stages end to end on a folder source against real Azurite (hashing embedder: fast, deterministic)."""

from __future__ import annotations

import os
from pathlib import Path

from shared.corpus.read import current_documents, iter_chunks
from shared.pipeline.context import Context
from shared.storage import layout, records
from tests.shared.pipeline.hosted import RunSource

PARA = ("Lighthouses once used whale oil lamps, then kerosene, then electric arcs. The Fresnel lens "
        "gathered their light into a beam visible for twenty nautical miles. ")


def write_docs(folder: Path, n: int) -> None:
    for i in range(n):
        body = "\n\n".join(f"Paragraph {j} of note {i}. " + PARA * 3 for j in range(4))
        (folder / f"note-{i}.md").write_text(f"# Note {i}\n\n{body}\n")


async def snapshot(ctx: Context, prefix: str) -> dict[str, bytes]:
    return {name: await ctx.store.read_bytes(name) or b"" async for name in ctx.store.list_names(prefix)}


async def test_first_run_adds_every_document_with_vectors(run_source: RunSource, ctx: Context, docs: Path) -> None:
    write_docs(docs, 5)
    counts = await run_source(ctx, "run-1")
    assert (counts.discovered, counts.added, counts.updated, counts.failed) == (5, 5, 0, 0)
    assert counts.chunks_embedded > 5 and counts.chunks_reused == 0
    chunks = [c async for c in iter_chunks(ctx.store)]
    assert len(chunks) == counts.chunks_embedded
    assert {c["doc_id"] for c in chunks} == {f"note-{i}.md" for i in range(5)}
    assert all(c["text"].strip() and len(c["vector"]) == ctx.embedder.dim for c in chunks)
    assert all(c["tokens"] <= ctx.settings.chunk_tokens for c in chunks)


async def test_unchanged_rerun_skips_by_hint_and_writes_nothing_new(run_source: RunSource,
                                                                    ctx: Context, docs: Path) -> None:
    write_docs(docs, 4)
    await run_source(ctx, "run-1")
    before = await snapshot(ctx, "corpus/")
    counts = await run_source(ctx, "run-2")
    assert (counts.discovered, counts.unchanged, counts.added, counts.chunks_embedded) == (4, 4, 0, 0)
    assert await snapshot(ctx, "corpus/") == before


async def test_touched_file_with_same_text_is_unchanged(run_source: RunSource, ctx: Context, docs: Path) -> None:
    write_docs(docs, 2)
    await run_source(ctx, "run-1")
    path = docs / "note-0.md"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    counts = await run_source(ctx, "run-2")
    assert (counts.unchanged, counts.updated, counts.chunks_embedded) == (2, 0, 0)
    assert (await run_source(ctx, "run-3")).unchanged == 2  # the new hint was recorded


async def test_one_changed_paragraph_reembeds_only_its_chunks(run_source: RunSource, ctx: Context, docs: Path) -> None:
    write_docs(docs, 3)
    first = await run_source(ctx, "run-1")
    path = docs / "note-1.md"
    path.write_text(path.read_text().replace("Paragraph 3 of note 1.", "Paragraph 3, rewritten entirely."))
    counts = await run_source(ctx, "run-2")
    assert (counts.updated, counts.unchanged, counts.added) == (1, 2, 0)
    assert 0 < counts.chunks_embedded < first.chunks_embedded / 3
    assert counts.chunks_reused > 0
    rec = await records.read_doc(ctx.store, "notes", "note-1.md")
    assert rec is not None and len(rec.versions) == 2
    assert await ctx.store.exists(rec.versions[0].blob)  # the old version stays (append-only)
    texts = [c["text"] async for c in iter_chunks(ctx.store) if c["doc_id"] == "note-1.md"]
    assert any("rewritten entirely" in t for t in texts)


async def test_deleted_file_gets_a_tombstone_and_leaves_the_export(run_source: RunSource,
                                                                   ctx: Context, docs: Path) -> None:
    write_docs(docs, 3)
    await run_source(ctx, "run-1")
    (docs / "note-2.md").unlink()
    counts = await run_source(ctx, "run-2")
    assert counts.deleted == 1
    assert await ctx.store.exists(layout.tombstone_blob("notes", "note-2.md", "run-2"))
    assert [d.doc_id for d in await current_documents(ctx.store)] == ["note-0.md", "note-1.md"]


async def test_dry_run_reports_and_leaves_state_byte_for_byte(run_source: RunSource, ctx: Context, docs: Path) -> None:
    write_docs(docs, 3)
    await run_source(ctx, "run-1")
    (docs / "note-0.md").unlink()
    (docs / "note-9.md").write_text("# New\n\nA brand new note about tides and tide pools.\n")
    (docs / "note-1.md").write_text("# Note 1\n\nCompletely different text now.\n")
    before = {**await snapshot(ctx, "corpus/"), **await snapshot(ctx, "state/")}
    counts = await run_source(ctx, "run-dry", dry_run=True)
    assert (counts.added, counts.updated, counts.deleted, counts.unchanged) == (1, 1, 1, 1)
    assert {**await snapshot(ctx, "corpus/"), **await snapshot(ctx, "state/")} == before


async def test_retried_stages_are_idempotent(run_source: RunSource, ctx: Context, docs: Path) -> None:
    write_docs(docs, 2)
    await run_source(ctx, "run-1")
    before = await snapshot(ctx, "corpus/")
    state = await snapshot(ctx, "state/notes/docs/")
    # The same run id again is what an at-least-once redelivery of every activity looks like.
    await run_source(ctx, "run-1", full_refresh=True)
    assert await snapshot(ctx, "corpus/") == before
    assert await snapshot(ctx, "state/notes/docs/") == state


async def test_full_refresh_reuses_vectors_and_reembed_does_not(run_source: RunSource,
                                                                ctx: Context, docs: Path) -> None:
    write_docs(docs, 2)
    first = await run_source(ctx, "run-1")
    refreshed = await run_source(ctx, "run-2", full_refresh=True)
    assert (refreshed.discovered, refreshed.unchanged, refreshed.chunks_embedded) == (2, 2, 0)
    before = [c async for c in iter_chunks(ctx.store)]
    again = await run_source(ctx, "run-3", reembed=True)
    assert (again.updated, again.chunks_embedded, again.chunks_reused) == (2, first.chunks_embedded, 0)
    rec = await records.read_doc(ctx.store, "notes", "note-0.md")
    assert rec is not None and len(rec.versions) == 2 and rec.current.endswith("-run-3.jsonl")
    after = [c async for c in iter_chunks(ctx.store)]
    assert [c["vector"] for c in after] == [c["vector"] for c in before]  # same model, same vectors


async def test_lost_hint_index_costs_work_not_correctness(run_source: RunSource, ctx: Context, docs: Path) -> None:
    write_docs(docs, 3)
    await run_source(ctx, "run-1")
    assert await ctx.store.delete(layout.hints_blob("notes"))
    (docs / "note-2.md").unlink()
    counts = await run_source(ctx, "run-2")  # every document is fetched again, found unchanged by checksum
    assert (counts.unchanged, counts.added, counts.deleted, counts.chunks_embedded) == (2, 0, 1, 0)
    again = await run_source(ctx, "run-3")  # and the index has been rebuilt from what was committed
    assert (again.discovered, again.unchanged) == (2, 2)
    assert [d.doc_id for d in await current_documents(ctx.store)] == ["note-0.md", "note-1.md"]

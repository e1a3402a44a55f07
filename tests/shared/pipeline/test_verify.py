"""Issue 12 item 5: `verify` finds exactly what was lost or corrupted after a run, `repair` + a run gives an
export identical to the clean run's; and the two root causes: the hint index no longer hides a document
whose record write was lost, and a run re-creates a missing current version blob (full refresh or not)."""

from __future__ import annotations

from pathlib import Path

from shared.corpus.read import iter_chunks
from shared.corpus.verify import repair, verify
from shared.pipeline.context import Context
from shared.storage import hints, layout, records
from tests.shared.pipeline.hosted import RunSource

PARA = "Salt marshes trap sediment with every tide and build up, inch by inch, behind the dunes. "
STABLE = ("chunk_id", "doc_id", "source_id", "url", "title", "ordinal", "text", "tokens", "chunk_hash",
          "content_hash", "model", "vector")


def write_docs(folder: Path, n: int) -> None:
    for i in range(n):
        (folder / f"doc-{i}.md").write_text(f"# Doc {i}\n\n{PARA * 4} Number {i}.\n")


async def export(ctx: Context) -> list[dict]:
    return [{k: row[k] for k in STABLE} async for row in iter_chunks(ctx.store)]


async def current(ctx: Context, doc_id: str) -> str:
    rec = await records.read_doc(ctx.store, "notes", doc_id)
    assert rec is not None and rec.current
    return rec.current


async def test_verify_reports_exactly_the_damage_and_repair_restores_the_export(run_source: RunSource,
                                                                                ctx: Context, docs: Path) -> None:
    write_docs(docs, 6)
    await run_source(ctx, "run-1")
    clean = await export(ctx)
    assert (await verify(ctx.store)).problems == []

    gone, bad = await current(ctx, "doc-0.md"), await current(ctx, "doc-1.md")
    await ctx.store.delete(gone)
    await ctx.store.write_bytes(bad, b"{not json lines\n")
    lost_record = layout.doc_record_blob("notes", "doc-2.md")
    await ctx.store.delete(lost_record)
    bad_record = layout.doc_record_blob("notes", "doc-3.md")
    await ctx.store.write_bytes(bad_record, b"\x00garbage")

    report = await verify(ctx.store)
    found = sorted((p.kind, p.blob, p.doc_id) for p in report.problems)
    assert found == sorted([("version_missing", gone, "doc-0.md"), ("version_unreadable", bad, "doc-1.md"),
                            ("record_missing", lost_record, "doc-2.md"),
                            ("record_unreadable", bad_record, "doc-3.md")])
    assert report.to_json()["ok"] is False

    # without repair, the hint index hides the damage from an incremental run
    assert (await run_source(ctx, "run-2")).unchanged == 6
    assert len((await verify(ctx.store)).problems) == 4

    await repair(ctx.store, await verify(ctx.store))
    counts = await run_source(ctx, "run-3")
    assert counts.failed == 0
    assert (await verify(ctx.store)).problems == []
    assert await export(ctx) == clean


async def test_an_unreadable_checkpoint_and_hint_index_are_repaired(run_source: RunSource,
                                                                    ctx: Context, docs: Path) -> None:
    write_docs(docs, 2)
    await run_source(ctx, "run-1")
    await ctx.store.write_bytes(layout.checkpoint_blob("notes"), b"{")
    await ctx.store.write_bytes(layout.hints_blob("notes"), b"[")
    kinds = sorted(p.kind for p in (await verify(ctx.store)).problems)
    assert kinds == ["checkpoint_unreadable", "hints_unreadable"]
    await repair(ctx.store, await verify(ctx.store))
    assert (await records.read_checkpoint(ctx.store, "notes")).reset_requested
    assert (await run_source(ctx, "run-2")).failed == 0
    assert (await verify(ctx.store)).problems == []


async def test_a_lost_record_write_is_not_hidden_by_the_hint_index(run_source: RunSource,
                                                                   ctx: Context, docs: Path) -> None:
    write_docs(docs, 3)
    lost = layout.doc_record_blob("notes", "doc-1.md")
    await run_source(ctx, "run-1", before_finish=lambda: ctx.store.delete(lost))
    assert "doc-1.md" not in await hints.load(ctx.store, "notes")
    counts = await run_source(ctx, "run-2")
    assert (counts.added, counts.unchanged) == (1, 2)
    assert await records.read_doc(ctx.store, "notes", "doc-1.md") is not None


async def test_a_run_recreates_a_missing_current_version(run_source: RunSource, ctx: Context, docs: Path) -> None:
    write_docs(docs, 2)
    await run_source(ctx, "run-1")
    clean = await export(ctx)
    gone = await current(ctx, "doc-0.md")
    await ctx.store.delete(gone)
    await run_source(ctx, "run-2", full_refresh=True)
    assert await ctx.store.exists(gone) and await export(ctx) == clean
    await ctx.store.delete(gone)
    os_touch = docs / "doc-0.md"
    os_touch.write_text(os_touch.read_text())  # same text, new mtime: fetched, found unchanged by checksum
    await run_source(ctx, "run-3")
    assert await ctx.store.exists(gone) and await export(ctx) == clean

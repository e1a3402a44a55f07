"""Issue 12 item 4: garbage in a state blob is named, treated as permanent, and healed where it can be.

Real blobs in Azurite are overwritten with garbage between runs of the real stages."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shared.corpus.read import iter_chunks
from shared.errors import CorruptBlobError, PermanentError
from shared.models import RunOptions, SourceTask
from shared.pipeline import lifecycle
from shared.pipeline.context import Context
from shared.storage import hints, layout, records
from tests.shared.pipeline.hosted import RunSource

PARA = "Tide pools hold anemones, limpets and small crabs that wait for the sea to come back. "
GARBAGE = [b"{not json", b"\xff\xfe\x00garbage", b'{"doc_id": 5}', b"[1, 2, 3]"]


def write_docs(folder: Path, n: int) -> None:
    for i in range(n):
        (folder / f"note-{i}.md").write_text(f"# Note {i}\n\n{PARA * 4}\n")


async def corrupt(ctx: Context, name: str, data: bytes) -> None:
    assert await ctx.store.exists(name), name
    await ctx.store.write_bytes(name, data)


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_an_unreadable_document_record_means_fetch_again(run_source: RunSource,
                                                               ctx: Context, docs: Path, garbage: bytes,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    write_docs(docs, 3)
    await run_source(ctx, "run-1")
    name = layout.doc_record_blob("notes", "note-1.md")
    await corrupt(ctx, name, garbage)
    (docs / "note-1.md").write_text(f"# Note 1 changed\n\n{PARA * 5}\n")
    with caplog.at_level(logging.WARNING):
        counts = await run_source(ctx, "run-2")
    assert counts.failed == 0 and counts.added + counts.updated == 1
    assert name in caplog.text
    rec = await records.read_doc(ctx.store, "notes", "note-1.md")
    assert rec is not None and rec.title == "Note 1 changed"
    assert len([c async for c in iter_chunks(ctx.store)]) >= 3


@pytest.mark.parametrize("garbage", GARBAGE[:2])
async def test_an_unreadable_hint_index_means_fetch_again(run_source: RunSource,
                                                          ctx: Context, docs: Path, garbage: bytes,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    write_docs(docs, 3)
    await run_source(ctx, "run-1")
    name = layout.hints_blob("notes")
    await corrupt(ctx, name, garbage)
    hints._cache.clear()
    with caplog.at_level(logging.WARNING):
        counts = await run_source(ctx, "run-2")
    assert (counts.failed, counts.unchanged, counts.added) == (0, 3, 0)
    assert name in caplog.text
    assert set(await hints.load(ctx.store, "notes")) == {f"note-{i}.md" for i in range(3)}


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_an_unreadable_checkpoint_is_a_permanent_error_naming_the_blob(run_source: RunSource,
                                                                             ctx: Context, docs: Path,
                                                                             garbage: bytes) -> None:
    write_docs(docs, 1)
    await run_source(ctx, "run-1")
    name = layout.checkpoint_blob("notes")
    await corrupt(ctx, name, garbage)
    task = SourceTask(run_id="run-2", source_id="notes", options=RunOptions())
    with pytest.raises(CorruptBlobError) as info:
        await lifecycle.begin_source(ctx, task)
    assert isinstance(info.value, PermanentError)
    assert name in str(info.value) and "harvest verify --repair" in str(info.value)
    # through the orchestrator: the failure policy finds it permanent, the source fails at once, naming it
    result = await run_source.result(ctx, "run-2")
    assert result.status == "failed" and result.counts.discovered == 0
    assert result.message is not None and name in result.message and "harvest verify --repair" in result.message


async def test_an_unreadable_version_blob_is_skipped_and_reported(run_source: RunSource,
                                                                  ctx: Context, docs: Path) -> None:
    write_docs(docs, 3)
    await run_source(ctx, "run-1")
    rec = await records.read_doc(ctx.store, "notes", "note-2.md")
    assert rec is not None and rec.current
    await corrupt(ctx, rec.current, b'{"chunk_id": "a"}\n{broken\n')
    unreadable: list[str] = []
    rows = [row async for row in iter_chunks(ctx.store, unreadable=unreadable)]
    assert {r["doc_id"] for r in rows} == {"note-0.md", "note-1.md"}
    assert unreadable == [rec.current]
    await corrupt(ctx, layout.doc_record_blob("notes", "note-0.md"), b"{garbage")
    unreadable.clear()
    rows = [row async for row in iter_chunks(ctx.store, unreadable=unreadable)]
    assert {r["doc_id"] for r in rows} == {"note-1.md"}
    assert sorted(unreadable) == sorted([rec.current, layout.doc_record_blob("notes", "note-0.md")])


async def test_an_unreadable_previous_version_is_embedded_again(run_source: RunSource,
                                                                ctx: Context, docs: Path) -> None:
    write_docs(docs, 2)
    await run_source(ctx, "run-1")
    rec = await records.read_doc(ctx.store, "notes", "note-0.md")
    assert rec is not None and rec.current
    await corrupt(ctx, rec.current, b"\x00\x01 not json lines")
    (docs / "note-0.md").write_text(f"# Note 0\n\n{PARA * 4}\n\nOne more paragraph about the tide.\n")
    counts = await run_source(ctx, "run-2")
    assert (counts.failed, counts.updated) == (0, 1) and counts.chunks_reused == 0

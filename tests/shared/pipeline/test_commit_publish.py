"""A batch's commit publishes the documents it wrote (``shared.index.batch``), in the batch lanes of a real
source run on the local host; the end-of-source pass then reads no document record and no version blob. An
index failing in a commit never fails it: the end-of-source pass publishes those documents."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.corpus.read import iter_chunks
from shared.index import sync
from shared.index.keys import decode_key
from shared.index.lancedb_target import LanceDBTarget
from shared.pipeline.context import Context, open_context
from shared.settings import Settings
from tests.shared.index.fake_search import FakeSearch, FakeSearchServer
from tests.shared.pipeline.hosted import RunSource
from tests.shared.pipeline.test_stages import write_docs


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many documents the end-of-source pass read the record (``desired``) and version blob (``rows``) of:
    the batches' publishing builds its documents from what commit holds and never calls these."""
    seen = {"desired": 0, "rows": 0}
    desired, rows = sync.Publisher._desired, sync.Publisher._rows

    async def counted_desired(self: sync.Publisher, *args: object) -> None:
        seen["desired"] += 1
        await desired(self, *args)  # type: ignore[arg-type]

    async def counted_rows(self: sync.Publisher, *args: object) -> None:
        seen["rows"] += 1
        await rows(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sync.Publisher, "_desired", counted_desired)
    monkeypatch.setattr(sync.Publisher, "_rows", counted_rows)
    return seen


async def exported(ctx: Context) -> set[str]:
    return {row["chunk_id"] async for row in iter_chunks(ctx.store)}


async def lancedb_ids(ctx: Context) -> set[str]:
    target = LanceDBTarget(ctx.settings.index_path, ctx.settings.index_name)
    try:
        return await target.chunk_ids("chunks")
    finally:
        await target.close()


async def test_commits_publish_in_the_lanes_and_the_end_of_source_pass_reads_nothing(
        run_source: RunSource, ctx: Context, docs: Path, reads: dict[str, int]) -> None:
    write_docs(docs, 8)  # batches of 2: four batches, in parallel lanes
    first = await run_source.result(ctx, "run-1")
    assert first.status == "completed" and first.lanes > 1
    assert first.counts.index_upserted == first.counts.chunks_embedded > 0
    assert reads == {"desired": 0, "rows": 0}
    assert await lancedb_ids(ctx) == await exported(ctx)

    (docs / "note-1.md").write_text("# Note 1\n\nRewritten: the keeper logged a storm from the north-east.\n")
    os.remove(docs / "note-2.md")
    second = await run_source.result(ctx, "run-2")
    assert second.status == "completed" and second.counts.index_deleted > 0
    assert reads == {"desired": 1, "rows": 0}  # the tombstone is the end-of-source pass's; the edit was not
    assert await lancedb_ids(ctx) == await exported(ctx)


async def test_turned_off_the_end_of_source_pass_publishes_every_document(
        run_source: RunSource, azurite: str, docs: Path, reads: dict[str, int]) -> None:
    settings = Settings(storage_connection=azurite, container=f"p-{uuid.uuid4().hex[:12]}",
                        manifest=str(docs.parent / "sources.yaml"), embedder="hashing", chunk_tokens=64,
                        chunk_overlap=8, batch_size=2, index_in_batches=False)
    async with open_context(settings) as ctx:
        await ctx.store.ensure_container()
        write_docs(docs, 4)
        result = await run_source.result(ctx, "run-1")
        assert result.status == "completed" and result.counts.index_upserted == result.counts.chunks_embedded
        assert reads["desired"] == 4 and reads["rows"] == 4
        assert await lancedb_ids(ctx) == await exported(ctx)


@pytest.fixture
def search() -> Iterator[tuple[FakeSearch, str]]:
    service = FakeSearch()
    with FakeSearchServer(service) as url:
        yield service, url


@pytest.fixture
async def search_ctx(azurite: str, docs: Path, search: tuple[FakeSearch, str],
                     monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Context]:
    service, url = search
    monkeypatch.setenv("TEST_SEARCH_ADMIN_KEY", service.api_key or "")
    settings = Settings(storage_connection=azurite, container=f"p-{uuid.uuid4().hex[:12]}",
                        manifest=str(docs.parent / "sources.yaml"), embedder="hashing", chunk_tokens=64,
                        chunk_overlap=8, batch_size=2, index="azure-search", search_endpoint=url,
                        search_api_key_setting="TEST_SEARCH_ADMIN_KEY")
    async with open_context(settings) as ctx:
        await ctx.store.ensure_container()
        yield ctx


async def test_an_index_failing_in_the_commits_never_fails_them(
        run_source: RunSource, search_ctx: Context, search: tuple[FakeSearch, str], docs: Path,
        reads: dict[str, int], caplog: pytest.LogCaptureFixture) -> None:
    service, _ = search
    write_docs(docs, 6)  # three batches: each commit's one upload request is refused (400), nothing else is
    service.script = [(400, {})] * 3
    with caplog.at_level(logging.WARNING, logger="harvest.index"):
        result = await run_source.result(search_ctx, "run-1")
    assert result.status == "completed" and result.counts.failed == 0 and result.message is None
    assert service.script == []
    assert sum("not published from its commit" in r.getMessage() for r in caplog.records) == 3
    assert reads["desired"] == 6  # the end-of-source pass published all of them
    assert result.counts.index_upserted == result.counts.chunks_embedded
    index = service.aliases["chunks"]
    assert {decode_key(k) for k in service.docs[index]} == await exported(search_ctx)

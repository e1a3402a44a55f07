"""Fixtures for the search index: a corpus written through the real commit path, and each target (LanceDB
in a temporary directory; Azure AI Search as the stand-in ``fake_search`` spoken to by the real SDK)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.embedding.hashing import HashingEmbedder
from shared.index.azure_search import AzureSearchTarget
from shared.index.base import IndexTarget
from shared.index.check import current_generation
from shared.index.generations import read_state
from shared.index.lancedb_target import LanceDBTarget
from shared.index.sync import publish
from shared.models import PublishResult
from shared.pipeline.context import Context, open_context
from shared.settings import Settings
from tests.shared.index.corpus import Corpus, paragraphs
from tests.shared.index.fake_search import FakeSearch, FakeSearchServer

__all__ = ["Corpus", "paragraphs"]

EMBEDDER = HashingEmbedder()


@pytest.fixture
async def ctx(azurite: str, tmp_path: Path) -> AsyncIterator[Context]:
    settings = Settings(storage_connection=azurite, container=f"x-{uuid.uuid4().hex[:12]}", embedder="hashing",
                        manifest=str(tmp_path / "sources.yaml"), index_path=str(tmp_path / "index"))
    async with open_context(settings) as c:
        await c.store.ensure_container()
        yield c


@pytest.fixture
def corpus(ctx: Context) -> Corpus:
    return Corpus(ctx)


@pytest.fixture
def fake() -> Iterator[tuple[FakeSearch, str]]:
    service = FakeSearch()
    with FakeSearchServer(service) as url:
        yield service, url


@pytest.fixture(params=["lancedb", "azure-search"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IndexTarget]:
    if request.param == "lancedb":
        made: IndexTarget = LanceDBTarget(tmp_path / "lancedb", "chunks")
    else:
        service, url = request.getfixturevalue("fake")
        made = AzureSearchTarget(url, "chunks", api_key=service.api_key, retry_total=1, key_backoff=0.01)
    yield made
    await made.close()


async def run_publish(ctx: Context, target: IndexTarget, source_id: str = "notes", **options: Any) -> PublishResult:
    """Every call of a publish pass (as the orchestrator makes them), counts added up."""
    total = PublishResult()
    cursor = None
    model_id, dim = options.pop("model_id", EMBEDDER.model_id), options.pop("dim", EMBEDDER.dim)
    for _ in range(1000):
        part = await publish(ctx.store, target, source_id, model_id=model_id, dim=dim, cursor=cursor, **options)
        total.upserted += part.upserted
        total.deleted += part.deleted
        total.failed += part.failed
        total.unchanged += part.unchanged
        total.errors += part.errors
        total.switched = part.switched or total.switched
        if part.cursor is None:
            return total
        cursor = part.cursor
    raise AssertionError("the publish pass never ended")


async def indexed(ctx: Context, target: IndexTarget) -> set[str]:
    """The chunk ids in the index generation being written (what a reader sees once it is switched in)."""
    where = current_generation(await read_state(ctx.store, target), target)
    return set() if where is None else await target.chunk_ids(where.physical)

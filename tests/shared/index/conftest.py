"""Fixtures for the search index: a corpus written through the real commit path, and each target (LanceDB
in a temporary directory; Azure AI Search as the stand-in ``fake_search`` spoken to by the real SDK)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shared.corpus import iter_chunks
from shared.embedding.hashing import HashingEmbedder
from shared.index.azure_search import AzureSearchTarget
from shared.index.base import IndexTarget
from shared.index.check import current_generation
from shared.index.generations import read_state
from shared.index.lancedb_target import LanceDBTarget
from shared.index.sync import publish
from shared.models import BatchRef, PublishResult
from shared.pipeline.commit import _write_version, tombstone
from shared.pipeline.context import Context, open_context
from shared.settings import Settings
from tests.shared.index.fake_search import FakeSearch, FakeSearchServer

EMBEDDER = HashingEmbedder()


@dataclass
class Corpus:
    """Documents of one source, written as a run's commit writes them (version blob, then record)."""

    ctx: Context
    source_id: str = "notes"
    runs: int = 0
    texts: dict[str, list[str]] = field(default_factory=dict)

    async def put(self, doc_id: str, paragraphs: list[str], *, reembed: bool = False) -> None:
        self.runs += 1
        run_id = f"run-{self.runs:04d}"
        digest = hashlib.sha256("\n".join(paragraphs).encode()).hexdigest()
        vectors = EMBEDDER.embed_passages(paragraphs)
        chunks = [{"ordinal": i, "text": p, "tokens": len(p.split()), "hash": hashlib.sha256(p.encode()).hexdigest(),
                   "vector": [float(x) for x in vectors[i]]} for i, p in enumerate(paragraphs)]
        row = {"doc_id": doc_id, "content_hash": digest, "url": f"file:///{doc_id}", "title": doc_id.title(),
               "hint": run_id, "status": "changed" if doc_id in self.texts else "new"}
        batch = BatchRef(run_id=run_id, source_id=self.source_id, batch_id="b0", reembed=reembed)
        await _write_version(self.ctx, batch, row, chunks)
        self.texts[doc_id] = paragraphs

    async def delete(self, doc_id: str) -> None:
        self.runs += 1
        await tombstone(self.ctx.store, self.source_id, doc_id, f"run-{self.runs:04d}")
        self.texts.pop(doc_id, None)

    async def live_ids(self) -> set[str]:
        """What ``harvest export`` prints."""
        return {row["chunk_id"] async for row in iter_chunks(self.ctx.store)}


def paragraphs(doc: int, n: int, version: int = 0) -> list[str]:
    words = ["bees", "honey", "glacier", "river", "clock", "piano", "tea", "bread", "yeast", "ice"]
    return [" ".join(words[(doc * 7 + p * 3 + version + w) % len(words)] for w in range(40))
            + f" d{doc} p{p} v{version}" for p in range(n)]


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

"""Fixtures of the core's tests: a Blob container of their own (``store``), a pipeline ``Context`` on a folder
of documents (``docs``, ``ctx``), a source run through the real orchestrator on the local host (``run_source``),
and a second HTTP server on another loopback address (``other_server``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from pytest_httpserver import HTTPServer

from shared.pipeline.context import Context, open_context
from shared.settings import Settings
from shared.storage.blobs import BlobStore

if TYPE_CHECKING:
    from tests.shared.pipeline.hosted import RunSource


@pytest.fixture
async def store(azurite: str) -> AsyncIterator[BlobStore]:
    """An empty container of this test's own."""
    async with BlobStore.connect(container=f"t-{uuid.uuid4().hex[:12]}", connection_string=azurite) as s:
        await s.ensure_container()
        yield s


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """An empty ``docs`` folder, the one source (``notes``) of the manifest beside it."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (tmp_path / "sources.yaml").write_text("sources:\n  - id: notes\n    kind: folder\n    path: docs\n")
    return folder


@pytest.fixture
async def ctx(azurite: str, docs: Path) -> AsyncIterator[Context]:
    settings = Settings(
        storage_connection=azurite,
        container=f"p-{uuid.uuid4().hex[:12]}",
        manifest=str(docs.parent / "sources.yaml"),
        embedder="hashing",
        chunk_tokens=64,
        chunk_overlap=8,
        batch_size=2,
    )
    async with open_context(settings) as c:
        await c.store.ensure_container()
        yield c


@pytest_asyncio.fixture
async def run_source(azurite: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunSource]:
    """``await run_source(ctx, run_id, source_id, full_refresh=..., dry_run=..., reembed=...)``: the source's
    counts after the real source orchestrator ran it with the real activities (see ``hosted``)."""
    from tests.shared.pipeline.hosted import source_runner  # the app and its host: only for the tests using it

    async with source_runner(azurite, monkeypatch) as run:
        yield run


@pytest.fixture
def other_server() -> Iterator[HTTPServer]:
    """A second server on another loopback address (127.0.0.2)."""
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()

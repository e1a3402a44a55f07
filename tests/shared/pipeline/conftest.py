from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from shared.pipeline.context import Context, open_context
from shared.settings import Settings
from tests.shared.pipeline.hosted import RunSource, source_runner

MakeContext = Callable[..., "AsyncIterator[Context]"]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
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
    async with source_runner(azurite, monkeypatch) as run:
        yield run

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.models import RunOptions, RunSummary, SourceCounts, SourceResult
from shared.runs.index import sync_index
from shared.storage import layout
from shared.storage.blobs import BlobStore
from tests.shared.pipeline.conftest import ctx, docs, run_source  # noqa: F401  (a real source run: test_timeline)

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
async def runs_store(azurite: str) -> AsyncIterator[BlobStore]:
    async with BlobStore.connect(container=f"r-{uuid.uuid4().hex[:12]}", connection_string=azurite) as store:
        await store.ensure_container()
        yield store


def make_run(i: int, status: str = "completed", sources: dict[str, str] | None = None,
             when: datetime | None = None, seconds: float = 60.0) -> RunSummary:
    start = when or T0 + timedelta(hours=i)
    sources = sources or {"docs": "completed"}
    return RunSummary(
        run_id=f"run-{i:03d}", status=status, trigger="timer" if i % 2 else "http", options=RunOptions(),
        requested_at=start, started_at=start, finished_at=start + timedelta(seconds=seconds),
        sources={sid: SourceResult(source_id=sid, status=st) for sid, st in sources.items()},  # type: ignore[arg-type]
        totals=SourceCounts(discovered=10 + i, added=i, updated=1, deleted=0, failed=i % 3, chunks_embedded=5 * i))


async def seed(store: BlobStore, summary: RunSummary) -> RunSummary:
    await store.write_json(layout.run_blob(summary.run_id), summary.model_dump(mode="json"))  # as stored
    await sync_index(store, summary.run_id)
    return summary

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.models import RunOptions, RunSummary, SourceCounts, SourceResult
from shared.runs.index import sync_index
from shared.storage import layout
from shared.storage.blobs import BlobStore

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


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

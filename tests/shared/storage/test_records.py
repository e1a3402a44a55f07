"""Source claims and checkpoints: one run at a time may advance a source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import ConflictError
from shared.storage import layout, records
from shared.storage.blobs import BlobStore


async def test_second_run_is_refused_while_first_holds_the_claim(store: BlobStore) -> None:
    await records.claim_source(store, "src", "run-1")
    with pytest.raises(ConflictError, match="run-1"):
        await records.claim_source(store, "src", "run-2")
    again = await records.claim_source(store, "src", "run-1")
    assert again.active_run == "run-1"


async def test_release_records_outcome_and_frees_the_source(store: BlobStore) -> None:
    await records.claim_source(store, "src", "run-1")
    await records.release_source(store, "src", "run-1", last_run_id="run-1", last_status="completed",
                                 high_water="2026-01-01T00:00:00+00:00")
    cp = await records.read_checkpoint(store, "src")
    assert cp.active_run is None and cp.high_water == "2026-01-01T00:00:00+00:00"
    assert (await records.claim_source(store, "src", "run-2")).active_run == "run-2"


async def test_release_by_a_run_that_lost_its_claim_changes_nothing(store: BlobStore) -> None:
    await records.claim_source(store, "src", "run-1")
    before = await store.read_bytes(layout.checkpoint_blob("src"))
    await records.release_source(store, "src", "run-other", high_water="x")
    assert await store.read_bytes(layout.checkpoint_blob("src")) == before


async def test_stale_claim_is_taken_over(store: BlobStore) -> None:
    old = datetime.now(UTC) - timedelta(hours=7)
    await store.write_json(layout.checkpoint_blob("src"), records.Checkpoint(
        source_id="src", active_run="run-dead", active_since=old).model_dump(mode="json"))
    cp = await records.claim_source(store, "src", "run-new")
    assert cp.active_run == "run-new"


async def test_concurrent_checkpoint_writers_lose_no_update(store: BlobStore) -> None:
    import asyncio

    async def set_field(i: int) -> None:
        def change(cur: dict | None) -> dict:
            cp = records.Checkpoint(source_id="src") if cur is None else records.Checkpoint.model_validate(cur)
            counts = cp.counts.add({"added": 1})
            return cp.model_copy(update={"counts": counts, "last_error": f"writer {i}"}).model_dump(mode="json")

        await store.update_json(layout.checkpoint_blob("src"), change, attempts=200)

    await asyncio.gather(*(set_field(i) for i in range(12)))
    cp = await records.read_checkpoint(store, "src")
    assert cp.counts.added == 12

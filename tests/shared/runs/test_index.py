"""The run index against Azurite: newest first, filters, pagination with opaque tokens across listing
pages, the ``since`` cut-off, huge source lists, and convergence with the run record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.runs.control import release_claims
from shared.runs.index import PREFIX, BadContinuation, RunQuery, index_blob, list_runs, sync_index
from shared.runs.record import set_status
from shared.storage import records
from shared.storage.blobs import BlobStore
from tests.shared.runs.conftest import T0, make_run, seed


async def _all_pages(store: BlobStore, query: RunQuery, page_size: int) -> list[list[str]]:
    pages, token = [], None
    while True:
        items, token = await list_runs(store, query, token, page_size=page_size)
        pages.append([i["run_id"] for i in items])
        if token is None:
            return pages


async def test_newest_first_paginated_across_listing_pages(store: BlobStore) -> None:
    for i in range(13):
        await seed(store, make_run(i, "failed" if i % 4 == 0 else "completed",
                                        {"docs": "completed", "news": "failed" if i % 4 == 0 else "completed"}
                                        if i % 2 else {"docs": "completed"}))
    expected = [f"run-{i:03d}" for i in reversed(range(13))]
    pages = await _all_pages(store, RunQuery(limit=5), page_size=3)
    assert [run for page in pages for run in page] == expected
    assert [len(p) for p in pages] == [5, 5, 3]
    failed = await _all_pages(store, RunQuery(status="failed", limit=2), page_size=4)
    assert [run for page in failed for run in page] == ["run-012", "run-008", "run-004", "run-000"]
    news = await _all_pages(store, RunQuery(source="news", limit=100), page_size=4)
    assert news == [[f"run-{i:03d}" for i in reversed(range(13)) if i % 2]]
    recent = await _all_pages(store, RunQuery(since=T0 + timedelta(hours=10), limit=100), page_size=5)
    assert recent == [["run-012", "run-011", "run-010"]]
    item = (await list_runs(store, RunQuery(limit=1)))[0][0]
    assert item["duration_s"] == 60.0 and item["totals"]["added"] == 12 and item["sources"] == {"docs": "completed"}


async def test_tokens_are_opaque_and_bound_to_their_filters(store: BlobStore) -> None:
    for i in range(3):
        await seed(store, make_run(i))
    _, token = await list_runs(store, RunQuery(limit=1))
    assert token and "run-" not in token
    with pytest.raises(BadContinuation):
        await list_runs(store, RunQuery(limit=1, status="failed"), token)
    for bad in ("garbage", "eyJtIjogMX0", token[:-3]):
        with pytest.raises(BadContinuation):
            await list_runs(store, RunQuery(limit=1), bad)


async def test_a_rare_filter_returns_a_token_after_the_scan_limit(store: BlobStore) -> None:
    for i in range(6):
        await seed(store, make_run(i))
    items, token = await list_runs(store, RunQuery(status="failed"), scan_limit=4, page_size=2)
    assert items == [] and token is not None
    items, token = await list_runs(store, RunQuery(status="failed"), token, scan_limit=4, page_size=2)
    assert items == [] and token is None


async def test_hundreds_of_sources_fall_back_to_the_index_body(store: BlobStore) -> None:
    many = {f"source-with-a-long-name-{n:04d}": "completed" for n in range(400)}
    many["source-with-a-long-name-0399"] = "failed"
    await seed(store, make_run(1, "partial", many))
    items, _ = await list_runs(store, RunQuery(source="source-with-a-long-name-0399"))
    assert [i["run_id"] for i in items] == ["run-001"]
    assert items[0]["sources"]["source-with-a-long-name-0399"] == "failed"


async def test_status_changes_reach_the_index_and_claims_are_released(store: BlobStore) -> None:
    run = await seed(store, make_run(1, "running", {"docs": "running", "news": "pending"}))
    await records.claim_source(store, "docs", run.run_id)
    await records.claim_source(store, "other", "run-999")
    cancelled = await set_status(store, run.run_id, "cancelled", reason="operator")
    assert cancelled is not None and cancelled.status == "cancelled" and cancelled.finished_at
    assert await sync_index(store, run.run_id) == cancelled
    assert {s.status for s in cancelled.sources.values()} == {"skipped"}
    assert (await list_runs(store, RunQuery(status="cancelled")))[0][0]["run_id"] == run.run_id
    assert await release_claims(store, run.run_id, ["docs", "news", "other"]) == ["docs"]
    assert (await records.read_checkpoint(store, "docs")).active_run is None
    assert (await records.read_checkpoint(store, "other")).active_run == "run-999"
    again = await set_status(store, run.run_id, "running")
    assert again is not None and again.status == "cancelled"  # a final status is never reopened
    assert await sync_index(store, "run-404") is None


async def test_index_names_sort_newest_first() -> None:
    older, newer = make_run(1), make_run(2)
    assert index_blob(newer) < index_blob(older) and index_blob(older).startswith(PREFIX)


async def test_no_container_yet_is_an_empty_history(azurite: str) -> None:
    import uuid
    from datetime import UTC, datetime

    from shared.runs.index import iter_since
    from shared.runs.retention import purge_expired
    from shared.sources.info import document_count

    async with BlobStore.connect(container=f"none-{uuid.uuid4().hex[:10]}", connection_string=azurite) as store:
        assert await list_runs(store, RunQuery()) == ([], None)
        assert await iter_since(store, T0) == [] and await document_count(store, "docs") == 0
        assert (await purge_expired(store, now=datetime.now(UTC), days=1))["runs"] == []


async def test_a_run_with_no_sources_does_not_break_the_history(store: BlobStore) -> None:
    """Issue 12 item 1: an empty ``sources`` metadata value came back as None and broke every listing."""
    from shared.runs.index import iter_since

    run = make_run(1, "completed")
    await seed(store, run.model_copy(update={"sources": {}}))
    items, _ = await list_runs(store, RunQuery())
    assert [i["run_id"] for i in items] == ["run-001"] and items[0]["sources"] == {}
    assert (await list_runs(store, RunQuery(source="docs")))[0] == []
    assert [e["run_id"] for e in await iter_since(store, T0)] == ["run-001"]


@pytest.mark.parametrize("meta", [
    {}, {"sources": None, "totals": None, "duration": None}, {"totals": "x.1.-2", "duration": "abc"},
    {"requested": "not a date", "started": "2026-13-45", "sources": "a:c,b,:x,c:zz"},
    {"status": 5, "run_id": None, "dry": None},  # type: ignore[dict-item]
])
def test_index_entries_tolerate_any_stored_value(meta: dict) -> None:
    from shared.runs.index import entry_time, from_metadata

    entry = from_metadata(meta)
    assert isinstance(entry["sources"], dict) and isinstance(entry["totals"], dict)
    assert entry["duration_s"] is None or isinstance(entry["duration_s"], float)
    entry_time(entry)  # never raises


async def test_an_unreadable_index_body_does_not_break_the_listing(store: BlobStore) -> None:
    many = {f"source-with-a-long-name-{n:04d}": "completed" for n in range(400)}
    run = await seed(store, make_run(1, "completed", many))
    await store.container.upload_blob(index_blob(run), b"{garbage", overwrite=True,
                                           metadata={"run_id": run.run_id, "sources_in_body": "1"})
    items, _ = await list_runs(store, RunQuery(source="x"))
    assert items == []
    items, _ = await list_runs(store, RunQuery())
    assert [i["run_id"] for i in items] == [run.run_id]

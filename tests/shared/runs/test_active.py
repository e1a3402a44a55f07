"""The active-run marker on Azurite: of many simultaneous takers exactly one wins; only the holder's
marker is released; a marker retaken since it was read is never removed; the cancel fence."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import PermanentError
from shared.runs import active
from shared.runs.control import is_cancelled, mark_cancelled, refuse_if_cancelled
from shared.storage import layout
from shared.storage.blobs import BlobStore


async def test_of_ten_simultaneous_takers_one_wins(store: BlobStore) -> None:
    results = await asyncio.gather(*(active.acquire(store, f"run-{i}", trigger="http") for i in range(10)))
    winners = [i for i, held in enumerate(results) if held is None]
    assert len(winners) == 1
    assert {held.run_id for held in results if held is not None} == {f"run-{winners[0]}"}
    assert (await active.read(store)).run_id == f"run-{winners[0]}"


async def test_release_only_by_the_holder(store: BlobStore) -> None:
    assert await active.acquire(store, "run-a", trigger="timer") is None
    assert (await active.acquire(store, "run-a", trigger="timer")).run_id == "run-a"  # held, even by itself
    assert await active.release(store, "run-b") is False
    assert await active.release(store, "run-a") is True
    assert await active.read(store) is None
    assert await active.release(store, "run-a") is False


async def test_a_stale_marker_is_removed_only_if_unchanged(store: BlobStore) -> None:
    assert await active.acquire(store, "run-old", trigger="http") is None
    stale = await active.read(store)
    assert await active.remove(store, stale) is True
    assert await active.acquire(store, "run-new", trigger="http") is None
    assert await active.remove(store, stale) is False  # the new run's marker is left alone
    assert (await active.read(store)).run_id == "run-new"


async def test_an_unreadable_marker_names_no_run_and_can_be_removed(store: BlobStore) -> None:
    for garbage in (b"{not json", b"[1]", b'{"run_id": 7}', b"\xff\xfe"):
        await store.write_bytes(layout.active_run_blob(), garbage)
        marker = await active.read(store)
        assert marker is not None and marker.run_id == "" and marker.etag
    assert await active.remove(store, marker) is True
    assert await active.acquire(store, "run-next", trigger="http") is None


async def test_no_container_means_no_active_run(azurite: str) -> None:
    async with BlobStore.connect(container="never-created-here", connection_string=azurite) as store:
        assert await active.read(store) is None


async def test_cancel_fence(store: BlobStore) -> None:
    assert not await is_cancelled(store, "run-1")
    await refuse_if_cancelled(store, "run-1")
    await mark_cancelled(store, "run-1", "operator")
    await mark_cancelled(store, "run-1", "twice is fine")
    with pytest.raises(PermanentError, match="run run-1 was cancelled"):
        await refuse_if_cancelled(store, "run-1")

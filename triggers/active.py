"""Which run (if any) is active, and taking that place atomically, so a second start is refused instead
of racing the first. Built on the active-run marker (``shared.runs.active``), not on Durable's instance
list (``get_status_by`` reads one page only); the orchestration's status only decides whether a marker
left behind is stale."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df

from shared.runs import active
from shared.storage.blobs import BlobStore
from triggers.instances import DurableOrchestrations

log = logging.getLogger("harvest.triggers")
START_GRACE = timedelta(minutes=2)  # a marker whose run has no orchestration yet: still being started


async def _stale(client: df.DurableOrchestrationClient, marker: active.Marker) -> bool:
    if not marker.run_id:
        return True  # unreadable marker
    run = await DurableOrchestrations(client).get(marker.run_id)
    if run is not None:
        return not run.active
    since = marker.since or datetime.min.replace(tzinfo=UTC)
    return datetime.now(UTC) - since > START_GRACE  # its start failed without releasing it


async def active_run(client: df.DurableOrchestrationClient, store: BlobStore) -> str | None:
    """The active run's id, or None (a stale marker is removed on the way)."""
    marker = await active.read(store)
    if marker is None:
        return None
    if await _stale(client, marker):
        await active.remove(store, marker)
        return None
    return marker.run_id


async def take(client: df.DurableOrchestrationClient, store: BlobStore, run_id: str, trigger: str) -> str | None:
    """Make ``run_id`` the active run: None when taken, else the id of the run that holds the place."""
    for _ in range(5):
        held = await active.acquire(store, run_id, trigger=trigger)
        if held is None:
            return None
        if not await _stale(client, held):
            return held.run_id
        log.info("removing the stale active-run marker of %s", held.run_id or "(unreadable)")
        await active.remove(store, held)
    return run_id  # contended beyond reason: refuse rather than risk two runs

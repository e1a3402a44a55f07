"""Retention: delete run records, reports, staged data and index entries of runs older than N days, and
old idempotency keys. (Orchestration history is purged through the Durable client by the activity.)"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.runs.index import PREFIX, iter_before
from shared.runs.status import RUN_ACTIVE
from shared.storage.blobs import BlobStore

log = logging.getLogger("harvest.retention")
IDEMPOTENCY_PREFIX = "idempotency/"


async def delete_prefix(store: BlobStore, prefix: str) -> int:
    names = [name async for name in store.list_names(prefix)]
    for name in names:
        await store.delete(name)
    return len(names)


async def delete_run_data(store: BlobStore, run_id: str, index_name: str | None) -> int:
    """Everything Harvest keeps about one run: ``runs/{run_id}/`` and its index entry."""
    deleted = await delete_prefix(store, f"runs/{run_id}/")
    if index_name and index_name.startswith(PREFIX):
        deleted += int(await store.delete(index_name))
    return deleted


async def purge_expired(store: BlobStore, *, now: datetime, days: int, keep: set[str] | None = None) -> dict[str, Any]:
    """Delete the data of finished runs older than ``days`` (never an active run, nor one in ``keep``)."""
    cutoff = now - timedelta(days=days)
    runs = [e for e in await iter_before(store, cutoff)
            if e["status"] not in RUN_ACTIVE and e["run_id"] not in (keep or set())]
    blobs = 0
    for entry in runs:
        blobs += await delete_run_data(store, entry["run_id"], entry["index_blob"])
    keys = 0
    try:
        async for blob in store.container.list_blobs(name_starts_with=IDEMPOTENCY_PREFIX):
            if blob.last_modified and blob.last_modified < cutoff:
                keys += int(await store.delete(blob.name))
    except ResourceNotFoundError:  # no container: nothing to purge
        pass
    log.info("retention: %d run(s) older than %s purged (%d blobs), %d idempotency keys", len(runs),
             cutoff.isoformat(), blobs, keys)
    return {"cutoff": cutoff.isoformat(), "runs": [e["run_id"] for e in runs], "blobs": blobs,
            "idempotency_keys": keys}

"""The one active run: a marker blob created only if absent (``if_none_match="*"``), so of two
simultaneous starts exactly one wins, whichever host or trigger (HTTP, CLI, daily timer) they come from.

The marker names the run and when it was taken. It is removed when the run closes its record, when an
operator cancels it, or when the start that took it fails. A marker whose run has ended without removing
it (a crash, a failed orchestrator) is *stale*: whoever decides that (it needs the orchestration's
status, so the HTTP layer does) removes it under its ETag, so a marker retaken meanwhile is never lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from shared.storage import layout
from shared.storage.blobs import JSON_TYPE, BlobStore, dumps


@dataclass(frozen=True)
class Marker:
    run_id: str
    since: datetime | None
    etag: str | None


async def read(store: BlobStore) -> Marker | None:
    """The current marker, or None when no run is active (or nothing ever ran). An unreadable marker
    names no run (``run_id == ""``): stale by definition, so it never blocks starts for good."""
    try:
        stream = await store.container.download_blob(layout.active_run_blob())
        data = await stream.readall()
    except ResourceNotFoundError:  # no marker, or no container yet
        return None
    etag = stream.properties.etag
    try:
        value = json.loads(data)
        run_id, since = value["run_id"], value.get("since")
        when = datetime.fromisoformat(since) if isinstance(since, str) else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return Marker(run_id="", since=None, etag=etag)
    return Marker(run_id=run_id if isinstance(run_id, str) else "", since=when, etag=etag)


async def acquire(store: BlobStore, run_id: str, *, trigger: str, now: datetime | None = None) -> Marker | None:
    """Make ``run_id`` the active run. None when this call took the marker; otherwise the marker that
    holds it (possibly naming ``run_id`` itself: another request for the same run took it first)."""
    now = now or datetime.now(UTC)
    await store.ensure_container()
    body = dumps({"run_id": run_id, "since": now.isoformat(), "trigger": trigger})
    while True:
        if await store.create_if_absent(layout.active_run_blob(), body, content_settings=JSON_TYPE):
            return None
        held = await read(store)
        if held is not None:
            return held
        # removed between our create and our read: try again


async def remove(store: BlobStore, marker: Marker) -> bool:
    """Remove exactly this marker (its ETag): a marker retaken since it was read is left alone."""
    if marker.etag is None:
        return False
    try:
        await store.container.delete_blob(layout.active_run_blob(), etag=marker.etag,
                                          match_condition=MatchConditions.IfNotModified)
        return True
    except (ResourceNotFoundError, ResourceModifiedError):
        return False


async def release(store: BlobStore, run_id: str) -> bool:
    """Remove the marker if it names ``run_id`` (the run ended, was cancelled, or never started)."""
    for _ in range(5):
        held = await read(store)
        if held is None or held.run_id != run_id:
            return False
        if await remove(store, held):
            return True
    return False

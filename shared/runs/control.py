"""The cancel fence, and releasing the source claims a cancelled run still holds, so the next run can take
those sources at once. The Durable side (terminate/suspend/resume) is done by ``shared.runs.operations``; the
run record's own changes are ``shared.runs.record``'s.

Cancelling first writes a fence (``runs/{id}/cancelled.json``): from then on the run's activities refuse
to claim a source, commit to the corpus or move a checkpoint (``refuse_if_cancelled``), so a source
orchestration that outlives the terminate — one started just before it, or an activity in flight —
writes nothing more."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.errors import PermanentError
from shared.storage import layout, records
from shared.storage.blobs import JSON_TYPE, BlobStore, dumps


async def mark_cancelled(store: BlobStore, run_id: str, reason: str) -> None:
    """Fence the run: its activities write nothing after this (see ``refuse_if_cancelled``)."""
    body = dumps({"run_id": run_id, "reason": reason, "at": datetime.now(UTC).isoformat()})
    await store.create_if_absent(layout.cancelled_blob(run_id), body, content_settings=JSON_TYPE)


async def is_cancelled(store: BlobStore, run_id: str) -> bool:
    return await store.exists(layout.cancelled_blob(run_id))


async def refuse_if_cancelled(store: BlobStore, run_id: str) -> None:
    """Raise ``PermanentError`` when the run was cancelled (the activity then fails its source at once)."""
    if await is_cancelled(store, run_id):
        raise PermanentError(f"run {run_id} was cancelled")


async def release_claims(store: BlobStore, run_id: str, source_ids: list[str]) -> list[str]:
    """Release the claims ``run_id`` still holds on these sources; return the ids released."""
    released = []
    for sid in source_ids:
        checkpoint = await records.read_checkpoint(store, sid)
        if checkpoint.active_run != run_id:
            continue
        await records.release_source(store, sid, run_id, last_run_id=run_id, last_status="cancelled",
                                     last_error="run cancelled by an operator")
        released.append(sid)
    return released

"""Run record changes made by operators: cancelled, suspended, resumed — and releasing the source claims
a cancelled run still holds, so the next run can take those sources at once. The Durable side
(terminate/suspend/resume) is done by ``shared.runs.operations``; these functions only touch Harvest's own records.

Cancelling first writes a fence (``runs/{id}/cancelled.json``): from then on the run's activities refuse
to claim a source, commit to the corpus or move a checkpoint (``refuse_if_cancelled``), so a source
orchestration that outlives the terminate — one started just before it, or an activity in flight —
writes nothing more."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.errors import PermanentError
from shared.models import RunSummary, SourceResult
from shared.outcome import totals
from shared.runs.index import sync_index
from shared.runs.status import RUN_FINAL
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


async def set_status(store: BlobStore, run_id: str, status: str, *, reason: str | None = None) -> RunSummary | None:
    """Move an unfinished run record to ``status`` (``cancelled``, ``suspended`` or ``running``); a record
    that already has a final status is left alone. Returns the record (None when there is none)."""
    now = datetime.now(UTC)

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current is None:
            return None
        summary = RunSummary.model_validate(current)
        if summary.status in RUN_FINAL:
            return current
        update: dict[str, Any] = {"status": status}
        if status == "cancelled":
            update.update(finished_at=now, message=reason or "cancelled by an operator")
            sources = {}
            for sid, r in summary.sources.items():
                if r.status in ("pending", "running"):
                    r = r.model_copy(update={"status": "skipped", "phase": "done", "message": "run cancelled"})
                sources[sid] = r
            update["sources"] = sources
        return summary.model_copy(update=update).model_dump(mode="json")

    value = await store.update_json(layout.run_blob(run_id), change)
    if value is None:
        return None
    return await sync_index(store, run_id)


async def record_source(store: BlobStore, run_id: str, result: SourceResult) -> None:
    """Write one source's state into the run record as the source starts and as it ends, with the run's
    totals: the live view and ``harvest status`` read which sources have started, and how the finished ones
    ended, from here (these writes happen only once Azure really runs the source). A record already final,
    or none, is left alone."""

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current is None:
            return None
        summary = RunSummary.model_validate(current)
        if summary.status in RUN_FINAL:
            return current
        sources = {**summary.sources, result.source_id: result}
        update = {"sources": sources, "totals": totals(list(sources.values()))}
        return summary.model_copy(update=update).model_dump(mode="json")

    await store.update_json(layout.run_blob(run_id), change)


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


async def record_notifications(store: BlobStore, run_id: str, sent: list[dict[str, Any]]) -> None:
    """Append notification outcomes to the run record."""

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current is None:
            return None
        return {**current, "notifications": [*current.get("notifications", []), *sent]}

    await store.update_json(layout.run_blob(run_id), change)

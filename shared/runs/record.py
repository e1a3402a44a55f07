"""The run record (``runs/{run_id}/run.json``): one typed record (``RunSummary``), and every change made to
it, in this one module, through one conditional write (``_change``: read with its ETag, apply a pure
function of the typed record, write with ``if_match``, again on conflict).

Who changes it, and when: ``create`` (the run starts), ``record_source`` (a source starts and ends),
``close`` (the run ends), ``set_status`` (an operator cancels, suspends or resumes), ``add_notifications``
(a notification went out) and ``set_report`` (the report was written). Once a record has a final status
only ``close`` (the orchestrator's own last word), ``add_notifications`` and ``set_report`` still change it.
Keeping the run index in line is the caller's (``shared.runs.index.sync_index``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.models import NotificationRecord, RunSummary, SourceResult
from shared.runs.outcome import totals
from shared.runs.status import RUN_FINAL
from shared.storage import layout
from shared.storage.blobs import BlobStore

Change = Callable[[RunSummary | None], RunSummary | None]


async def read(store: BlobStore, run_id: str) -> RunSummary | None:
    value, _ = await store.read_json(layout.run_blob(run_id))
    return None if value is None else RunSummary.model_validate(value)


async def _change(store: BlobStore, run_id: str, change: Change) -> RunSummary | None:
    """The one write path: ``change`` gets the current record (None when there is none) and returns the new
    one, or None (or the same record) to write nothing. Returns what the record is afterwards."""

    def apply(current: dict[str, Any] | None) -> dict[str, Any] | None:
        before = None if current is None else RunSummary.model_validate(current)
        after = change(before)
        if after is None:
            return current
        return after.model_dump(mode="json")

    value = await store.update_json(layout.run_blob(run_id), apply)
    return None if value is None else RunSummary.model_validate(value)


async def create(store: BlobStore, summary: RunSummary) -> RunSummary:
    """Write the new run's record, or keep the one a previous attempt wrote (unless that one is only
    ``pending``)."""
    opened = await _change(store, summary.run_id,
                           lambda current: current if current is not None and current.status != "pending"
                           else summary)
    assert opened is not None
    return opened


async def record_source(store: BlobStore, run_id: str, result: SourceResult) -> None:
    """One source's state as it starts and as it ends, with the run's totals: the live view and ``harvest
    status`` read which sources have started, and how the finished ones ended, from here (these writes
    happen only once Azure really runs the source). A record already final, or none, is left alone."""

    def change(current: RunSummary | None) -> RunSummary | None:
        if current is None or current.status in RUN_FINAL:
            return None
        sources = {**current.sources, result.source_id: result}
        return current.model_copy(update={"sources": sources, "totals": totals(list(sources.values()))})

    await _change(store, run_id, change)


async def close(store: BlobStore, summary: RunSummary) -> RunSummary:
    """The run's result, as the orchestrator closes it (keeping the start time a record already has)."""

    def change(current: RunSummary | None) -> RunSummary:
        started = summary.started_at or (current.started_at if current else None)
        return summary.model_copy(update={"started_at": started, "finished_at": datetime.now(UTC),
                                          "notifications": current.notifications if current else [],
                                          "report": summary.report or (current.report if current else None)})

    closed = await _change(store, summary.run_id, change)
    assert closed is not None
    return closed


async def set_status(store: BlobStore, run_id: str, status: str, *, reason: str | None = None) -> RunSummary | None:
    """An operator's change (``cancelled``, ``suspended`` or ``running``) to an unfinished run; a record that
    already has a final status is left alone. Cancelling marks the sources still pending or running
    skipped. Returns the record (None when there is none)."""
    now = datetime.now(UTC)

    def change(current: RunSummary | None) -> RunSummary | None:
        if current is None or current.status in RUN_FINAL:
            return None
        update: dict[str, Any] = {"status": status}
        if status == "cancelled":
            update.update(finished_at=now, message=reason or "cancelled by an operator")
            update["sources"] = {sid: r.model_copy(update={"status": "skipped", "phase": "done",
                                                          "message": "run cancelled"})
                                 if r.status in ("pending", "running") else r for sid, r in current.sources.items()}
        return current.model_copy(update=update)

    return await _change(store, run_id, change)


async def add_notifications(store: BlobStore, run_id: str, sent: list[NotificationRecord]) -> None:
    """What each notification channel did, after those already recorded."""
    if sent:
        await _change(store, run_id, lambda current: None if current is None else current.model_copy(
            update={"notifications": [*current.notifications, *sent]}))


async def set_report(store: BlobStore, run_id: str, report: str) -> None:
    """Where the run's HTML report was written."""
    await _change(store, run_id, lambda current: None if current is None or current.report == report
                  else current.model_copy(update={"report": report}))

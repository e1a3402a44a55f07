"""Run operations: one service for the HTTP triggers (``triggers/run_history.py``, ``triggers/run_control.py``)
and the CLI (``harvest status --watch``, ``harvest report``, ``harvest run``): a run's live view, its report,
cancel, suspend, resume and purge. The callers only parse, call and render.

Host-free: every operation takes the ``BlobStore`` and an engine (``shared.runs.engine``), which the
triggers implement with the Durable client and the CLI with the local host.

Cancel, suspend and resume apply the Durable operation to the run *and* every source orchestration it
started (a Durable terminate stops only the one instance), then record the new status in the run record
and the run index. Cancelling first fences the run (its activities write nothing more, even in a source
orchestration that started just before the terminate), and afterwards releases the source claims and the
active-run place, so the next run can start at once, and sends the notifications that list ``cancelled``
(the orchestrator never reaches its own notify step once terminated).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared import names
from shared.models import RunSummary, SourceCounts
from shared.notify import notify
from shared.runs import active, record
from shared.runs.control import mark_cancelled, release_claims
from shared.runs.engine import Instance, OrchestrationControl, Orchestrations
from shared.runs.index import delete_index, sync_index
from shared.runs.report import render_run_report
from shared.runs.retention import delete_run_data
from shared.runs.status import RUN_FINAL
from shared.runs.view import compose, running_source_ids
from shared.settings import Settings, get_settings
from shared.storage import layout
from shared.storage.blobs import BlobStore

log = logging.getLogger("harvest.runs")
CONTROL_CONCURRENCY = 16  # source orchestrations terminated / suspended / resumed at once
VIEW_CHILDREN = 64  # running source orchestrations whose own progress the live view reads
VIEW_LANES = 64  # batch lanes of one running source whose counts it reads


@dataclass(frozen=True)
class Operation:
    method: str  # the engine's method, applied to the run and its source orchestrations
    applies_to: frozenset[str]  # the run orchestration's runtime statuses it applies to
    after: str  # the run record's status afterwards


OPERATIONS = {
    "cancel": Operation("terminate", frozenset({"Pending", "Running", "Suspended"}), "cancelled"),
    "suspend": Operation("suspend", frozenset({"Pending", "Running"}), "suspended"),
    "resume": Operation("resume", frozenset({"Suspended"}), "running"),
}


class RunNotFound(LookupError):
    """Neither a run record nor an orchestration of this id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id!r}")
        self.run_id = run_id


class RunConflict(Exception):
    """The run is in no state the operation applies to; ``hint`` says which states it needs."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


class RunStillActive(RunConflict):
    """Purge refused: the run's orchestration has not ended (cancel it first)."""


@dataclass(frozen=True)
class ControlResult:
    run_id: str
    operation: str
    status: str  # the run record's status afterwards
    reason: str
    released_sources: list[str] = field(default_factory=list)  # cancel: the source claims it released


@dataclass(frozen=True)
class PurgeResult:
    run_id: str
    blobs: int
    instances: int


async def read_run(store: BlobStore, engine: Orchestrations, run_id: str) -> tuple[RunSummary | None, Instance | None]:
    """The run record and the run orchestration's state (either may be missing). Both reads finish before
    an error of either is raised, so none is left running against a client its caller then closes."""
    summary, run = await asyncio.gather(record.read(store, run_id), engine.get(run_id), return_exceptions=True)
    if isinstance(summary, BaseException):
        raise summary
    if isinstance(run, BaseException):
        raise run
    return summary, run


async def running_children(engine: Orchestrations, run_id: str, source_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The progress (custom status) of each of these source orchestrations that is still active; while a
    source's batches run in batch lanes, what the lanes have done so far is added to its counts (the source
    adds it itself only when the page's lanes have ended)."""

    async def one(sid: str) -> tuple[str, dict[str, Any] | None]:
        child = await engine.get(names.source_instance_id(run_id, sid))
        if child is None or not child.active:
            return sid, None
        progress = dict(child.progress)
        lanes = progress.get("lanes")
        if isinstance(lanes, list) and lanes:
            found = await asyncio.gather(*(engine.get(str(iid)) for iid in lanes[:VIEW_LANES]))
            counts = SourceCounts.model_validate(progress.get("counts") or {})
            started = 0
            for lane in found:
                if lane is not None:
                    counts = counts.add(lane.progress.get("counts") or {})
                    started += int(lane.progress.get("batch") or 0)
            progress.update(counts=counts.model_dump(), batch=started)
        return sid, progress

    found = await asyncio.gather(*(one(sid) for sid in source_ids[:VIEW_CHILDREN]), return_exceptions=True)
    children: dict[str, dict[str, Any]] = {}
    for result in found:  # every read has finished: none is left running against a closing client
        if isinstance(result, BaseException):
            raise result
        if result[1] is not None:
            children[result[0]] = result[1]
    return children


async def live_view(store: BlobStore, engine: Orchestrations, run_id: str) -> dict[str, Any] | None:
    """The run as ``GET /api/runs/{id}`` shows it (``shared.runs.view``), None when there is no such run.
    Its ``runtime_status`` is the run orchestration's (None before it exists or after it was purged)."""
    summary, run = await read_run(store, engine, run_id)
    record = summary.model_dump(mode="json") if summary else None
    children = await running_children(engine, run_id, running_source_ids(record, run)) if run and run.active else {}
    return compose(record, run, children, now=datetime.now(UTC))


async def report_html(store: BlobStore, run_id: str) -> bytes | None:
    """The report written when the run ended (``layout.report_blob``), or one rendered now from the run
    record (a run still going, or one whose report was not written); None when there is no record."""
    stored = await store.read_bytes(layout.report_blob(run_id))
    if stored is not None:
        return stored
    summary = await record.read(store, run_id)
    return None if summary is None else render_run_report(summary).encode("utf-8")


async def apply_to_run(engine: OrchestrationControl, method: str, run_id: str, source_ids: list[str], reason: str,
                       *, parent: bool = True) -> None:
    """terminate/suspend/resume the run (unless ``parent`` is False: it already ended), then its source lanes,
    every source orchestration it may have started, and their batch lanes — parents first, so no lane starts
    new work after its parent has stopped (one that does not exist or already ended is fine; a Durable
    terminate stops only the one instance). Lanes are found in their parents' custom status."""
    if parent:
        await getattr(engine, method)(run_id, reason)
    limit = asyncio.Semaphore(CONTROL_CONCURRENCY)

    async def one(instance_id: str) -> None:
        async with limit:
            try:
                await getattr(engine, method)(instance_id, reason)
            except Exception as exc:  # not started yet, or already finished
                log.debug("%s %s: %s", method, instance_id, exc)

    async def lanes_of(instance_id: str) -> list[str]:
        try:
            found = await engine.get(instance_id)
        except Exception as exc:  # the control still reaches every instance it can name
            log.debug("reading %s: %s", instance_id, exc)
            return []
        ids = found.progress.get("lanes") if found is not None else None
        return [str(i) for i in ids] if isinstance(ids, list) else []

    await asyncio.gather(*(one(iid) for iid in await lanes_of(run_id)))
    sources = [names.source_instance_id(run_id, sid) for sid in source_ids]
    await asyncio.gather(*(one(iid) for iid in sources))
    batch_lanes = [iid for found in await asyncio.gather(*(lanes_of(s) for s in sources)) for iid in found]
    await asyncio.gather(*(one(iid) for iid in batch_lanes))


async def control(store: BlobStore, engine: OrchestrationControl, run_id: str, operation: str, reason: str,
                  *, settings: Settings | None = None) -> ControlResult:
    """Cancel, suspend or resume a run (``OPERATIONS``). Raises ``RunNotFound``, or ``RunConflict`` when the
    run is in no state the operation applies to (a run already final never changes)."""
    op = OPERATIONS[operation]
    summary, run = await read_run(store, engine, run_id)
    if run is None and summary is None:
        raise RunNotFound(run_id)
    current = run.runtime_status if run else None
    final = summary is not None and summary.status in RUN_FINAL
    # a cancel that terminated the orchestration but stopped before the record followed: finish it
    unfinished = operation == "cancel" and current == "Terminated" and summary is not None and not final
    if final or (current not in op.applies_to and not unfinished):
        shown = summary.status if final and summary is not None else (current or "unknown")
        needed = " or ".join(sorted(s.lower() for s in op.applies_to))
        raise RunConflict(f"cannot {operation} run {run_id}: it is {shown.lower()}",
                          f"{operation} applies to runs that are {needed}")
    source_ids = list(summary.sources) if summary else []
    if operation == "cancel":
        await mark_cancelled(store, run_id, reason)  # first: from now on the run's activities write nothing
    await apply_to_run(engine, op.method, run_id, source_ids, reason, parent=not unfinished)
    updated = await record.set_status(store, run_id, op.after, reason=reason)
    if updated is not None:
        updated = await sync_index(store, run_id)
    released: list[str] = []
    if operation == "cancel":
        released = await release_claims(store, run_id, source_ids)
        await active.release(store, run_id)
        if updated is not None and updated.status == "cancelled":
            await _notify_cancelled(store, updated, settings or get_settings())
    return ControlResult(run_id, operation, updated.status if updated else op.after, reason, released)


async def _notify_cancelled(store: BlobStore, summary: RunSummary, settings: Settings) -> None:
    """Channels that list ``cancelled`` are sent from here (failures are recorded, never raised)."""
    await record.add_notifications(store, summary.run_id, await notify(settings, summary))


async def purge(store: BlobStore, engine: OrchestrationControl, run_id: str) -> PurgeResult:
    """Delete everything kept about an ended run: its record, report, staged data, index entry and the
    history of its orchestrations. Raises ``RunNotFound``, or ``RunStillActive`` while it is going."""
    summary, run = await read_run(store, engine, run_id)
    if summary is None and run is None:
        raise RunNotFound(run_id)
    if run is not None and run.active:
        raise RunStillActive(f"run {run_id} is still {run.runtime_status.lower()}",
                             "purge applies to runs that have ended: cancel it first")
    ids = [names.source_lane_id(run_id, i) for i in range((run.progress.get("window") or 0) if run else 0)]
    for sid, result in (summary.sources if summary else {}).items():
        ids.append(names.source_instance_id(run_id, sid))
        ids += [names.batch_lane_id(run_id, sid, page, lane) for page in range(result.pages)
                for lane in range(result.lanes)]
    instances = await engine.purge(run_id)
    limit = asyncio.Semaphore(CONTROL_CONCURRENCY)

    async def one(instance_id: str) -> int:
        async with limit:
            return await engine.purge(instance_id)

    instances += sum(await asyncio.gather(*(one(iid) for iid in ids)))
    blobs = await delete_run_data(store, run_id, None)
    if summary is not None:
        await delete_index(store, summary)
    return PurgeResult(run_id, blobs, instances)

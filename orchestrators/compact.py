"""The compaction orchestrator: the sources in ``lanes`` compaction lanes (``orchestrators.lanes``; each source
touches only its own records), each lane compacting its sources one after another, each source in pages —
one bounded ``compact_source`` activity per page of document records, the next page from the continuation
token the previous one returned — so no activity walks a whole source against the function timeout. After
``PAGES_PER_EXECUTION`` pages a lane continues as new with its sources' progress, so history stays bounded.
A source whose compaction failed gets ``{"error": ...}``; the others' results stand."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrators.calls import Steps, call, start
from orchestrators.lanes import join, lane_failure, shares
from shared import contracts, names
from shared.errors import failure_reason
from shared.models import CompactJob, CompactLaneResult, CompactResult, CompactSourceInput

PAGES_PER_EXECUTION = 50

bp = df.Blueprint()


def _finished(progress: CompactResult | dict[str, str] | None) -> bool:
    return progress is not None and (isinstance(progress, dict) or progress.continuation is None)


def _shown(progress: CompactResult | dict[str, str]) -> dict[str, Any]:
    return progress if isinstance(progress, dict) else progress.model_dump(mode="json", exclude={"continuation"})


@bp.function_name(names.COMPACT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def compact_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    job = contracts.COMPACT.read_input(context.get_input())
    lanes = [CompactJob(sources=share, keep=job.keep, lanes=1) for share in shares(job.sources, job.lanes)]
    calls = [start(context, contracts.COMPACT_LANE, lane, names.compact_lane_id(context.instance_id, i))
             for i, lane in enumerate(lanes)]
    results: dict[str, dict[str, Any]] = {}
    for lane, (ok, value) in zip(lanes, (yield from join(context, calls)), strict=True):
        done = contracts.COMPACT_LANE.result(value).sources if ok else {}
        for source_id in lane.sources:
            results[source_id] = done.get(source_id) or {"error": lane_failure(value)}
    report = CompactLaneResult(keep=job.keep, sources={sid: results[sid] for sid in job.sources})
    return contracts.COMPACT.answer(report)


@bp.function_name(names.COMPACT_LANE)
@bp.orchestration_trigger(context_name="context")
def compact_lane(context: df.DurableOrchestrationContext) -> Steps:
    """Up to ``PAGES_PER_EXECUTION`` pages of this lane's sources, then continue as new with their progress."""
    job = contracts.COMPACT_LANE.read_input(context.get_input())
    pages = 0
    for source_id in job.sources:
        done = job.progress.get(source_id)
        if _finished(done):
            continue
        if pages >= PAGES_PER_EXECUTION:  # history stays bounded: the rest in a fresh execution
            context.continue_as_new(contracts.COMPACT_LANE.payload(job))
            return None
        result = done if isinstance(done, CompactResult) else CompactResult(source_id=source_id)
        try:
            while True:
                page = yield from call(context, contracts.COMPACT_SOURCE, CompactSourceInput(
                    source_id=source_id, keep=job.keep, continuation=result.continuation))
                result, pages = result.add(page), pages + 1
                if result.continuation is None or pages >= PAGES_PER_EXECUTION:
                    break
            job.progress[source_id] = result
        except Exception as exc:  # a permanent failure for this source
            job.progress[source_id] = {"error": failure_reason(exc)}
        if not _finished(job.progress[source_id]):
            context.continue_as_new(contracts.COMPACT_LANE.payload(job))
            return None
    return contracts.COMPACT_LANE.answer(CompactLaneResult(sources={sid: _shown(job.progress[sid])
                                                                    for sid in job.sources}))

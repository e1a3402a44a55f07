"""The compaction orchestrator: every source at once (each touches only its own source's records), each
in pages — one bounded ``compact_source`` activity per page of document records, the next page from the
continuation token the previous one returned — so no activity walks a whole source against the function
timeout. After ``PAGES_PER_EXECUTION`` pages of a source the job continues as new with every source's
progress, so history stays bounded. A source whose compaction failed gets ``{"error": ...}``; the others'
results stand."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrators.calls import Steps, call, failure_reason
from orchestrators.fanout import interleave
from shared import names
from shared.models import CompactJob, CompactResult, CompactSourceInput

PAGES_PER_EXECUTION = 50

bp = df.Blueprint()


def _source(context: df.DurableOrchestrationContext, job: CompactJob, source_id: str) -> Steps:
    """Up to ``PAGES_PER_EXECUTION`` pages of one source; its progress so far (``continuation`` set: more)."""
    done = job.progress.get(source_id)
    if isinstance(done, dict):  # failed in an earlier execution
        return done
    result = done or CompactResult(source_id=source_id)
    try:
        for _ in range(PAGES_PER_EXECUTION):
            page = CompactResult.model_validate((yield from call(context, names.COMPACT_SOURCE, CompactSourceInput(
                source_id=source_id, keep=job.keep, continuation=result.continuation).model_dump(mode="json"))))
            result = result.add(page)
            if result.continuation is None:
                break
    except Exception as exc:  # a permanent failure for this source
        return {"error": failure_reason(exc)}
    return result


@bp.function_name(names.COMPACT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def compact_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    job = CompactJob.model_validate(context.get_input())
    pending = [s for s in job.sources if not _finished(job.progress.get(s))]
    outcomes = yield from interleave(context, [_source(context, job, s) for s in pending], len(pending))
    job.progress.update(zip(pending, outcomes, strict=True))
    if not all(_finished(p) for p in job.progress.values()):
        context.continue_as_new(job.model_dump(mode="json"))
        return None
    results: dict[str, Any] = {}
    for source_id in job.sources:
        done = job.progress[source_id]
        results[source_id] = done if isinstance(done, dict) else done.model_dump(mode="json", exclude={"continuation"})
    return {"keep": job.keep, "sources": results}


def _finished(progress: CompactResult | dict[str, str] | None) -> bool:
    return progress is not None and (isinstance(progress, dict) or progress.continuation is None)

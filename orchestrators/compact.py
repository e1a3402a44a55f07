"""The compaction orchestrator: one ``compact_source`` activity per source, all at once (each touches only
its own source's records), then the results (a source whose compaction failed gets ``{"error": ...}``)."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrators.calls import ACTIVITY_RETRY, Steps, failure_reason, settle
from shared import names
from shared.models import CompactJob, CompactSourceInput

bp = df.Blueprint()


@bp.function_name(names.COMPACT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def compact_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    job = CompactJob.model_validate(context.get_input())
    payloads = [CompactSourceInput(source_id=s, keep=job.keep).model_dump(mode="json") for s in job.sources]
    tasks = [context.call_activity_with_retry(names.COMPACT_SOURCE, ACTIVITY_RETRY, p) for p in payloads]
    firsts = (yield context.task_all(tasks)) if tasks else []
    results: dict[str, Any] = {}
    for source_id, payload, first in zip(job.sources, payloads, firsts, strict=True):
        try:
            results[source_id] = yield from settle(context, names.COMPACT_SOURCE, payload, first)
        except Exception as exc:  # a permanent failure for this source; the others' results stand
            results[source_id] = {"error": failure_reason(exc)}
    return {"keep": job.keep, "sources": results}

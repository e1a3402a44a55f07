"""The compaction orchestrator: one ``compact_source`` activity per source, all at once (each touches only
its own source's records), then the results."""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators.retry import ACTIVITY_RETRY
from shared import names

bp = df.Blueprint()


@bp.function_name(names.COMPACT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def compact_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    job = context.get_input()
    sources: list[str] = job["sources"]
    if not sources:
        return {"keep": job["keep"], "sources": {}}
    tasks = [
        context.call_activity_with_retry(names.COMPACT_SOURCE, ACTIVITY_RETRY, {"source_id": s, "keep": job["keep"]})
        for s in sources
    ]
    results = yield context.task_all(tasks)
    return {"keep": job["keep"], "sources": dict(zip(sources, results, strict=True))}

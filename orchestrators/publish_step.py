"""The source orchestrator's publish step (issue 22): after the source's last page, make the search index's
copy of the source equal to its live chunks — ``publish_index`` called again while it returns a cursor (each
call is bounded in time). It never fails the source: a failure is an error of stage ``publish`` and a
``completed`` source becomes ``partial`` (its corpus is whole; the index catches up on the next pass)."""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators.calls import Steps, call
from shared import contracts
from shared.errors import failure_reason
from shared.models import ErrorRecord, PublishInput, PublishResult, SourceResult, SourceTask

MAX_CALLS = 10_000  # a bound on the loop, far above any source's need (each call moves the pass on)


def publish_index(context: df.DurableOrchestrationContext, task: SourceTask, result: SourceResult) -> Steps:
    request = PublishInput(source_id=task.source_id, run_id=task.run_id, dry_run=task.options.dry_run)
    out = PublishResult()
    try:
        for _ in range(MAX_CALLS):
            out = yield from call(context, contracts.PUBLISH_INDEX, request)
            result.counts = result.counts.add({"index_upserted": out.upserted, "index_deleted": out.deleted})
            result.timings["publish"] = round(result.timings.get("publish", 0.0) + out.seconds, 4)
            result.errors.extend(out.errors[:max(0, 20 - len(result.errors))])
            if out.cursor is None:
                break
            request.cursor = out.cursor
        if out.failed and result.status == "completed":
            result.status = "partial"
    except Exception as exc:
        result.errors.append(ErrorRecord(stage="publish", reason=failure_reason(exc)))
        if result.status == "completed":
            result.status = "partial"

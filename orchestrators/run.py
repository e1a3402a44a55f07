"""The run orchestrator: one per run. Plans the sources, opens the run record, runs one source
sub-orchestration per source in a bounded window (``task_any``, so one failure never cancels the
others), publishes progress as custom status, closes the run record and returns the run summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from orchestrators.retry import ACTIVITY_RETRY
from shared import names
from shared.models import RunInput, RunSummary, SourceResult, SourceTask
from shared.outcome import run_status, totals

bp = df.Blueprint()


def source_instance_id(run_id: str, source_id: str) -> str:
    return f"{run_id}:{source_id}"


def progress(run_id: str, started: datetime, now: datetime, results: dict[str, SourceResult]) -> dict[str, Any]:
    """Custom status: per source its status and counts, and an ETA from the pace of finished sources."""
    done = [r for r in results.values() if r.status not in ("pending", "running")]
    elapsed = (now - started).total_seconds()
    remaining = len(results) - len(done)
    eta = round(elapsed / len(done) * remaining, 1) if done and remaining else (0.0 if not remaining else None)
    return {
        "run_id": run_id,
        "phase": "sources",
        "done": len(done),
        "total": len(results),
        "elapsed_s": round(elapsed, 1),
        "eta_s": eta,
        "sources": {
            sid: {"status": r.status, **({"counts": r.counts.model_dump()} if r.status != "pending" else {})}
            for sid, r in results.items()
        },
    }


@bp.function_name(names.RUN_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def run_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    run = RunInput.model_validate(context.get_input())
    started = context.current_utc_datetime
    context.set_custom_status({"run_id": run.run_id, "phase": "planning"})
    plan = yield context.call_activity_with_retry(
        names.LOAD_SOURCES, ACTIVITY_RETRY, {"options": run.options.model_dump(mode="json")}
    )
    if "fatal" in plan:  # the manifest or the request became invalid after the run was accepted
        failed = RunSummary(run_id=run.run_id, status="failed", trigger=run.trigger, options=run.options,
                            requested_at=run.requested_at, message=plan["fatal"])
        closed = yield context.call_activity_with_retry(
            names.CLOSE_RUN, ACTIVITY_RETRY, {"summary": failed.model_dump(mode="json")})
        context.set_custom_status({"run_id": run.run_id, "phase": "done", "status": "failed"})
        return closed
    source_ids: list[str] = plan["sources"]
    yield context.call_activity_with_retry(
        names.OPEN_RUN, ACTIVITY_RETRY, {"run": run.model_dump(mode="json"), "sources": source_ids}
    )

    results = {sid: SourceResult(source_id=sid) for sid in source_ids}
    queue = list(source_ids)
    running: list[tuple[Any, str]] = []
    while queue or running:
        while queue and len(running) < plan["max_parallel_sources"]:
            sid = queue.pop(0)
            task = SourceTask(
                run_id=run.run_id,
                source_id=sid,
                options=run.options,
                batch_size=plan["batch_sizes"][sid],
                pages_per_execution=plan["pages_per_execution"],
                failure_threshold=plan["failure_threshold"],
            )
            child = context.call_sub_orchestrator(
                names.SOURCE_ORCHESTRATOR, task.model_dump(mode="json"), source_instance_id(run.run_id, sid)
            )
            running.append((child, sid))
            results[sid] = SourceResult(source_id=sid, status="running")
        context.set_custom_status(progress(run.run_id, started, context.current_utc_datetime, results))
        winner = yield context.task_any([child for child, _ in running])
        index = next(i for i, (child, _) in enumerate(running) if child is winner)
        _, sid = running.pop(index)
        if isinstance(winner.result, Exception):
            results[sid] = SourceResult(source_id=sid, status="failed", message=str(winner.result)[:500])
        else:
            results[sid] = SourceResult.model_validate(winner.result)

    context.set_custom_status(progress(run.run_id, started, context.current_utc_datetime, results))
    ordered = [results[sid] for sid in source_ids]
    summary = RunSummary(
        run_id=run.run_id,
        status=run_status(ordered, failure_threshold=plan["failure_threshold"]),
        trigger=run.trigger,
        options=run.options,
        requested_at=run.requested_at,
        sources=results,
        totals=totals(ordered),
    )
    closed = yield context.call_activity_with_retry(
        names.CLOSE_RUN, ACTIVITY_RETRY, {"summary": summary.model_dump(mode="json")}
    )
    context.set_custom_status({**progress(run.run_id, started, context.current_utc_datetime, results),
                               "phase": "done", "status": summary.status})
    return closed

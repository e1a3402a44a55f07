"""The run orchestrator: one per run. Plans the sources, opens the run record, runs one source
sub-orchestration per source in a bounded window (``task_any``, so one failure never cancels the
others), publishes progress as custom status, closes the run record and returns the run summary."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrators.retry import ACTIVITY_RETRY
from shared import names
from shared.models import RunError, RunInput, RunSummary, SourceResult, SourceTask
from shared.outcome import run_status, totals
from shared.progress import build_status

MAX_RUN_ERRORS = 20

bp = df.Blueprint()


def source_instance_id(run_id: str, source_id: str) -> str:
    return f"{run_id}:{source_id}"


def first_errors(results: dict[str, SourceResult], limit: int = MAX_RUN_ERRORS) -> list[RunError]:
    """The run's first errors across sources (a source's own failure message first)."""
    out: list[RunError] = []
    for sid, r in results.items():
        if r.status == "failed" and r.message:
            out.append(RunError(source_id=sid, reason=r.message))
        out.extend(RunError(source_id=sid, **e.model_dump()) for e in r.errors)
    return out[:limit]


def after_close(context: df.DurableOrchestrationContext, run: RunInput, closed: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Publish (report + index), notify, and on the daily run apply retention. None of these can change
    the run's result: their activities report failures instead of raising."""
    outcomes: dict[str, Any] = {}
    steps = [(names.PUBLISH_RUN, True), (names.NOTIFY_RUN, False)]
    if run.trigger == "timer":
        steps.append((names.APPLY_RETENTION, True))
    for name, retry in steps:
        payload = {"run_id": run.run_id}
        try:  # a failure here is recorded by the activity itself; the run's result stands
            outcomes[name] = yield (context.call_activity_with_retry(name, ACTIVITY_RETRY, payload) if retry
                                    else context.call_activity(name, payload))
        except Exception as exc:
            outcomes[name] = {"error": str(exc)[:300]}
    sent = outcomes.get(names.NOTIFY_RUN) or {}
    report = (outcomes.get(names.PUBLISH_RUN) or {}).get("report")
    return {**closed, "notifications": sent.get("notifications", []), "report": report}


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
        return (yield from after_close(context, run, closed))
    source_ids: list[str] = plan["sources"]
    yield context.call_activity_with_retry(
        names.OPEN_RUN, ACTIVITY_RETRY, {"run": run.model_dump(mode="json"), "sources": source_ids}
    )
    indexed = yield context.call_activity_with_retry(names.INDEX_RUN, ACTIVITY_RETRY, {"run_id": run.run_id})
    window = plan["max_parallel_sources"]

    def progress(phase: str = "sources", status: str | None = None) -> dict[str, Any]:
        return build_status(run.run_id, started, context.current_utc_datetime, results, window=window,
                            phase=phase, status=status)

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
            results[sid] = SourceResult(source_id=sid, status="running", started_at=context.current_utc_datetime)
        context.set_custom_status(progress())
        winner = yield context.task_any([child for child, _ in running])
        index = next(i for i, (child, _) in enumerate(running) if child is winner)
        _, sid = running.pop(index)
        began = results[sid].started_at
        if isinstance(winner.result, Exception):
            results[sid] = SourceResult(source_id=sid, status="failed", message=str(winner.result)[:500])
        else:
            results[sid] = SourceResult.model_validate(winner.result)
        results[sid].phase, results[sid].started_at = "done", began
        results[sid].finished_at = context.current_utc_datetime

    context.set_custom_status(progress("closing"))
    ordered = [results[sid] for sid in source_ids]
    summary = RunSummary(
        run_id=run.run_id,
        status=run_status(ordered, failure_threshold=plan["failure_threshold"]),
        trigger=run.trigger,
        options=run.options,
        requested_at=run.requested_at,
        sources=results,
        totals=totals(ordered),
        message=plan.get("message"),
        errors=first_errors(results),
        status_url=(indexed or {}).get("status_url"),
    )
    closed = yield context.call_activity_with_retry(
        names.CLOSE_RUN, ACTIVITY_RETRY, {"summary": summary.model_dump(mode="json")}
    )
    context.set_custom_status(progress("finishing", summary.status))
    output = yield from after_close(context, run, closed)
    context.set_custom_status(progress("done", summary.status))
    return output

"""The run orchestrator: one per run. Plans the sources, opens the run record, runs one source
sub-orchestration per source, at most ``max_parallel_sources`` at once (``orchestrators.sources``; one
failure never cancels the others), publishes progress as custom status, closes the run record and returns
the run summary.

If planning, opening or the sources fail, the run is still closed — ``failed``, with the
reason — and its report and notifications still go out; if closing fails, it is closed again as
``failed``. A run record never stays ``running`` because an activity failed."""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.calls import ActivityFailed, Steps, call
from orchestrators.sources import run_sources
from shared import contracts, names
from shared.errors import failure_reason
from shared.models import (
    CloseRunInput,
    LoadSourcesInput,
    NotificationsSent,
    OpenRunInput,
    ReportWritten,
    RunError,
    RunInput,
    RunRef,
    RunSummary,
    SourceResult,
)
from shared.runs.outcome import run_status, totals
from shared.runs.progress import build_status

MAX_RUN_ERRORS = 20

bp = df.Blueprint()


def first_errors(results: dict[str, SourceResult], limit: int = MAX_RUN_ERRORS) -> list[RunError]:
    """The run's first errors across sources (a source's own failure message first)."""
    out: list[RunError] = []
    for sid, r in results.items():
        if r.status == "failed" and r.message:
            out.append(RunError(source_id=sid, reason=r.message))
        out.extend(RunError(source_id=sid, **dict(e)) for e in r.errors)
    return out[:limit]


def failure_message(exc: Exception) -> str:
    """Why the run failed, naming the step: ``open_run: <reason>``."""
    if isinstance(exc, ActivityFailed):
        return f"{exc.activity}: {exc.reason}"[:1000]
    return failure_reason(exc, 1000)


def summarize(run: RunInput, results: dict[str, SourceResult], *, status: str, message: str | None = None,
              status_url: str | None = None) -> RunSummary:
    ordered = list(results.values())
    return RunSummary(run_id=run.run_id, status=status, trigger=run.trigger, options=run.options,
                      requested_at=run.requested_at, sources=results, totals=totals(ordered),
                      errors=first_errors(results), message=message, status_url=status_url)


def close(context: df.DurableOrchestrationContext, summary: RunSummary) -> Generator[Any, Any, RunSummary]:
    """Close the run record; if that fails, close it ``failed`` with the reason. Returns the closed record
    (or, if even that failed, the summary the run ends with)."""
    try:
        return (yield from call(context, contracts.CLOSE_RUN, CloseRunInput(summary=summary)))
    except Exception as exc:
        failed = summary.model_copy(update={"status": "failed",
                                            "message": f"could not close the run: {failure_message(exc)}"})
        if summary.status == "failed":
            return failed
    try:
        return (yield from call(context, contracts.CLOSE_RUN, CloseRunInput(summary=failed)))
    except Exception:
        return failed


def after_close(context: df.DurableOrchestrationContext, run: RunInput,
                closed: RunSummary) -> Generator[Any, Any, RunSummary]:
    """Publish the report, notify, and on the daily run apply retention. None of these can change the run's
    result: a failure is logged by its activity (or lost here) and the run's status stands."""
    ref = RunRef(run_id=run.run_id)
    written, sent = ReportWritten(), NotificationsSent()
    with contextlib.suppress(Exception):  # no report: the run stands
        written = yield from call(context, contracts.PUBLISH_RUN, ref)
    with contextlib.suppress(Exception):  # no notification: the run stands
        sent = yield from call(context, contracts.NOTIFY_RUN, ref)
    if run.trigger == "timer":
        with contextlib.suppress(Exception):  # retention waits for the next daily run
            yield from call(context, contracts.APPLY_RETENTION, ref)
    return closed.model_copy(update={"notifications": sent.notifications, "report": written.report})


@bp.function_name(names.RUN_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def run_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    run = contracts.RUN.read_input(context.get_input())
    started = context.current_utc_datetime
    context.set_custom_status({"run_id": run.run_id, "phase": "planning"})
    results: dict[str, SourceResult] = {}
    window = 1
    status_url = None
    try:
        plan = yield from call(context, contracts.LOAD_SOURCES, LoadSourcesInput(options=run.options,
                                                                                 run_id=run.run_id))
        window = plan.max_parallel_sources
        results.update({sid: SourceResult(source_id=sid) for sid in plan.sources})
        opened = yield from call(context, contracts.OPEN_RUN, OpenRunInput(run=run, sources=plan.sources))
        status_url = opened.status_url
        yield from run_sources(context, run, plan, results)
        summary = summarize(run, results, status_url=status_url, message=plan.message,
                            status=run_status(list(results.values()), failure_threshold=plan.failure_threshold))
    except Exception as exc:  # the run cannot go on; it is still closed, reported and notified
        summary = summarize(run, results, status="failed", message=failure_message(exc), status_url=status_url)

    def progress(phase: str, status: str | None = None) -> dict[str, Any]:
        return build_status(run.run_id, started, context.current_utc_datetime, results, window=window,
                            phase=phase, status=status)

    context.set_custom_status(progress("closing"))
    closed = yield from close(context, summary)
    context.set_custom_status(progress("finishing", closed.status))
    output = yield from after_close(context, run, closed)
    context.set_custom_status(progress("done", closed.status))
    return contracts.RUN.answer(output)

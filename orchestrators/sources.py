"""A run's sources, at most ``max_parallel_sources`` at a time (``orchestrators.lanes``): when there are no
more sources than that, every source orchestration starts at once; else the sources are split into that many
source lanes, balanced by each source's last run time, each running its sources one after another."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrators.calls import Steps, start
from orchestrators.lanes import join, lane_failure, shares
from shared import contracts, names
from shared.errors import failure_reason
from shared.models import RunInput, RunPlan, SourceLaneResult, SourceLaneTask, SourceResult, SourceTask
from shared.runs.progress import build_status

bp = df.Blueprint()


def source_task(run: RunInput, plan: RunPlan, source_id: str) -> SourceTask:
    return SourceTask(run_id=run.run_id, source_id=source_id, options=run.options,
                      batch_size=plan.batch_sizes.get(source_id, SourceTask.model_fields["batch_size"].default),
                      max_parallel_batches=plan.max_parallel_batches, pages_per_execution=plan.pages_per_execution,
                      failure_threshold=plan.failure_threshold, errors_kept=plan.errors_kept)


def outcome(source_id: str, ok: bool, value: Any) -> SourceResult:
    """A source orchestration's result; a failed or terminated one as a failed source with its reason."""
    if ok:
        return contracts.SOURCE.result(value)
    return SourceResult(source_id=source_id, status="failed", message=failure_reason(str(value)))


def run_sources(context: df.DurableOrchestrationContext, run: RunInput, plan: RunPlan,
                results: dict[str, SourceResult]) -> Steps:
    """Every source's orchestration; fills ``results``. The custom status names a source running only once
    Azure has started it: all of them when they start together, else none — the lanes (``lanes`` in the
    status) say which source each is on."""
    started = context.current_utc_datetime
    tasks = [source_task(run, plan, sid) for sid in plan.sources]
    if len(tasks) <= plan.max_parallel_sources:
        for sid in plan.sources:
            results[sid] = SourceResult(source_id=sid, status="running", phase="running")
        context.set_custom_status(build_status(run.run_id, started, context.current_utc_datetime, results,
                                               window=plan.max_parallel_sources))
        calls = [start(context, contracts.SOURCE, task, names.source_instance_id(run.run_id, task.source_id))
                 for task in tasks]
        for task, (ok, value) in zip(tasks, (yield from join(context, calls)), strict=True):
            results[task.source_id] = outcome(task.source_id, ok, value)
        return
    weights = [plan.weights.get(task.source_id, 1.0) for task in tasks]
    lanes = [SourceLaneTask(run_id=run.run_id, lane=i, tasks=share)
             for i, share in enumerate(shares(tasks, plan.max_parallel_sources, weights))]
    ids = [names.source_lane_id(run.run_id, lane.lane) for lane in lanes]
    context.set_custom_status(build_status(run.run_id, started, context.current_utc_datetime, results,
                                           window=plan.max_parallel_sources, lanes=ids))
    calls = [start(context, contracts.SOURCE_LANE, lane, iid) for lane, iid in zip(lanes, ids, strict=True)]
    for lane, (ok, value) in zip(lanes, (yield from join(context, calls)), strict=True):
        done = contracts.SOURCE_LANE.result(value).results if ok else {}
        for task in lane.tasks:
            sid = task.source_id
            results[sid] = done.get(sid) or SourceResult(
                source_id=sid, status="failed", message=f"its source lane failed: {lane_failure(value)}")


def lane_status(lane: SourceLaneTask, done: dict[str, SourceResult], current: str | None) -> dict[str, Any]:
    """A source lane's custom status: the source it is on, and how many of its sources ended how (counts,
    never names: a lane of thousands of sources stays far under the extension's 16 KB)."""
    by_status: dict[str, int] = {}
    for r in done.values():
        by_status[r.status] = by_status.get(r.status, 0) + 1
    return {"lane": lane.lane, "current": current, "sources": len(lane.tasks), "finished": len(done),
            "by_status": by_status}


@bp.function_name(names.SOURCE_LANE)
@bp.orchestration_trigger(context_name="context")
def source_lane(context: df.DurableOrchestrationContext) -> Steps:
    lane = contracts.SOURCE_LANE.read_input(context.get_input())
    done: dict[str, SourceResult] = {}
    for task in lane.tasks:
        context.set_custom_status(lane_status(lane, done, task.source_id))
        try:
            done[task.source_id] = outcome(task.source_id, True, (yield start(
                context, contracts.SOURCE, task, names.source_instance_id(lane.run_id, task.source_id))))
        except Exception as exc:  # the source orchestration itself failed or was terminated
            done[task.source_id] = outcome(task.source_id, False, exc)
    context.set_custom_status(lane_status(lane, done, None))
    return contracts.SOURCE_LANE.answer(SourceLaneResult(results=done))

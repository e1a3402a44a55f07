"""The source orchestrator: one per (run, source). Claims the source, then page by page: discover → the
page's batches, each prepare (fetch → extract → chunk) → embed → commit (``orchestrators.batches``), in up to
``max_parallel_batches`` lanes (``orchestrators.lanes``) → once every batch of the page has committed, advance
the checkpoint cursor. After ``pages_per_execution`` pages it continues as new with its cursor and counts, so
history stays bounded. Any failure ends this source ``failed`` in its result; it never fails the run. The
decisions are pure functions in ``orchestrators.source_steps``."""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators.batches import run_share
from orchestrators.calls import Steps, call, start
from orchestrators.lanes import join, lane_failure, shares
from orchestrators.publish_step import publish_index
from orchestrators.source_steps import absorb, earlier, final_high_water, later, merge, progress
from shared import contracts, names
from shared.errors import failure_reason
from shared.models import (
    BatchLaneTask,
    BatchRef,
    CheckpointInput,
    CommitInput,
    DiscoverInput,
    FinishSourceInput,
    LaneOutcome,
    SourceResult,
    SourceTask,
)
from shared.runs.outcome import source_status

bp = df.Blueprint()


class BatchesFailed(Exception):
    """A batch of the page failed permanently: the source fails (the other batches were finished first)."""


def _page(context: df.DurableOrchestrationContext, task: SourceTask, result: SourceResult) -> Steps:
    """Discover one page, run its batches and deletions, advance the cursor; returns what discovery found."""
    dry = task.options.dry_run
    context.set_custom_status(progress(result, "discover", task.page))
    found = yield from call(context, contracts.DISCOVER, DiscoverInput(
        run_id=task.run_id, source_id=task.source_id, page=task.page, cursor=task.cursor, since=task.since,
        batch_size=task.batch_size, full_refresh=task.options.full_refresh, dry_run=dry))
    merge(result, "discover", found)
    lanes = max(1, min(task.max_parallel_batches, len(found.batches)))  # batches fetching from it at once
    refs = [BatchRef(run_id=task.run_id, source_id=task.source_id, batch_id=batch_id, dry_run=dry,
                     reembed=task.options.reembed, share=lanes) for batch_id in found.batches]
    result.batches += len(refs)
    weights = [float(n) for n in found.sizes] if len(found.sizes) == len(refs) else None
    outcomes = yield from _batches(context, task, result, refs, lanes, weights)
    for outcome in outcomes:
        task.min_failed_hint = earlier(task.min_failed_hint, outcome.min_failed_hint)
    if failed := [outcome.failure for outcome in outcomes if outcome.failure]:
        raise BatchesFailed(failed[0])
    if found.deleted_batch and dry:
        result.counts = result.counts.add({"deleted": found.deleted})
    elif found.deleted_batch:
        context.set_custom_status(progress(result, "commit", task.page))
        deletions = CommitInput(run_id=task.run_id, source_id=task.source_id, batch_id=found.deleted_batch,
                                deletions=True)
        merge(result, "commit", (yield from call(context, contracts.COMMIT, deletions)))
    task.high_water = later(task.high_water, found.high_water)
    if not dry and not found.done:  # after the last page finish_source clears the cursor with the claim
        yield from call(context, contracts.CHECKPOINT, CheckpointInput(
            run_id=task.run_id, source_id=task.source_id, cursor=found.next_cursor))
    return found


def _batches(context: df.DurableOrchestrationContext, task: SourceTask, result: SourceResult, refs: list[BatchRef],
             lanes: int, weights: list[float] | None) -> Steps:
    """The page's batches: in this orchestration, one after another, when one lane is all there is; else in
    ``lanes`` batch lanes started together (balanced by the batches' document counts, ``weights``), whose
    counts are added to ``result`` when they end."""
    if lanes <= 1:
        lane = BatchLaneTask(run_id=task.run_id, source_id=task.source_id, page=task.page, lane=0, refs=refs,
                             dry_run=task.options.dry_run)
        return [(yield from run_share(context, lane, result))]
    inputs = [BatchLaneTask(run_id=task.run_id, source_id=task.source_id, page=task.page, lane=i, refs=share,
                            dry_run=task.options.dry_run) for i, share in enumerate(shares(refs, lanes, weights))]
    ids = [names.batch_lane_id(task.run_id, task.source_id, task.page, lane.lane) for lane in inputs]
    result.lanes = max(result.lanes, len(ids))
    context.set_custom_status({**progress(result, "batches", task.page, 0, len(refs)), "lanes": ids})
    calls = [start(context, contracts.BATCH_LANE, lane, iid) for lane, iid in zip(inputs, ids, strict=True)]
    outcomes: list[LaneOutcome] = []
    for ok, value in (yield from join(context, calls)):
        outcome = contracts.BATCH_LANE.result(value) if ok else LaneOutcome(
            result=SourceResult(source_id=task.source_id), failure=lane_failure(value))
        absorb(result, outcome.result)
        outcomes.append(outcome)
    return outcomes


@bp.function_name(names.SOURCE_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def source_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    task = contracts.SOURCE.read_input(context.get_input())
    result = task.result or SourceResult(source_id=task.source_id, status="running")
    result.started_at = result.started_at or context.current_utc_datetime  # when Azure started it
    try:
        if not task.started:
            context.set_custom_status(progress(result, "claim", task.page))
            claimed = yield from call(context, contracts.BEGIN_SOURCE, task)
            task.cursor, task.since, task.started = claimed.cursor, claimed.since, True
        for _ in range(task.pages_per_execution):
            found = yield from _page(context, task, result)
            if found.done:
                break
            task.cursor, task.page = found.next_cursor, task.page + 1
        else:  # history stays bounded: the next pages run in a fresh execution with the same instance id
            task.result = result
            context.continue_as_new(contracts.SOURCE.payload(task))
            return None
        result.status = source_status(result.counts, failure_threshold=task.failure_threshold)
    except Exception as exc:  # a permanent failure, or a transient one that outlived its retries
        result.status = "failed"
        result.message = failure_reason(exc)

    context.set_custom_status(progress(result, "publish", task.page))
    yield from publish_index(context, task, result)  # issue 22: the search index follows the corpus
    result.finished_at = context.current_utc_datetime
    result.errors = result.errors[: task.errors_kept]  # the run's summary stays bounded (RunPlan.errors_kept)
    context.set_custom_status(progress(result, "done", task.page))
    finish = FinishSourceInput(run_id=task.run_id, result=result, dry_run=task.options.dry_run,
                               high_water=final_high_water(task.high_water, task.min_failed_hint),
                               full_refresh=task.options.full_refresh)
    try:
        yield from call(context, contracts.FINISH_SOURCE, finish)
    except Exception as exc:  # the claim stays until it goes stale; the run still gets this source's result
        result.status = "failed"
        result.message = f"could not release the source: {exc}"[:500]
    return contracts.SOURCE.answer(result)

"""The source orchestrator: one per (run, source). Claims the source, then page by page: discover →
the page's batches, up to ``max_parallel_batches`` at once (``orchestrators.fanout``), each prepare (fetch →
extract → chunk) → embed → commit → once every batch of the page has committed, advance the checkpoint
cursor. After
``pages_per_execution`` pages it continues as new with its cursor and counts, so history stays bounded.
Any failure ends this source ``failed`` in its result; it never fails the run. The decisions are pure
functions in ``orchestrators.source_steps``."""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators.calls import Steps, call, failure_reason
from orchestrators.fanout import interleave
from orchestrators.publish_step import publish_index
from orchestrators.source_steps import earlier, final_high_water, later, merge, progress
from shared import names
from shared.models import (
    BatchRef,
    CheckpointInput,
    CommitInput,
    DiscoverInput,
    DiscoverResult,
    FinishSourceInput,
    PrepareResult,
    SourceResult,
    SourceStart,
    SourceTask,
    StageResult,
)
from shared.outcome import after_fetch, source_status

bp = df.Blueprint()


def _stage(context: df.DurableOrchestrationContext, name: str, payload: object) -> Steps:
    return StageResult.model_validate((yield from call(context, name, payload)))


def _batch(context: df.DurableOrchestrationContext, task: SourceTask, result: SourceResult, ref: BatchRef,
           index: int, batches: int) -> Steps:
    """One batch: prepare (fetch → extract → chunk) → embed → commit; returns the earliest change hint
    among documents that failed transiently (the high-water mark is held back to it). Embedding is bounded
    per activity (tokens, time): embed is called again while it says the batch has chunks left."""
    payload = ref.model_dump(mode="json")
    context.set_custom_status(progress(result, "fetch", task.page, index + 1, batches))
    prepared = PrepareResult.model_validate((yield from call(context, names.PREPARE, payload)))
    merge(result, "fetch", prepared.fetch)
    if prepared.chunk is not None:
        merge(result, "chunk", prepared.chunk)
    step = after_fetch(prepared.fetch, dry_run=task.options.dry_run)
    if step == "commit_only":
        context.set_custom_status(progress(result, "commit", task.page, index + 1, batches))
        merge(result, "commit", (yield from _stage(context, names.COMMIT, payload)))
    if step != "continue":
        return prepared.fetch.min_failed_hint
    context.set_custom_status(progress(result, "embed", task.page, index + 1, batches))
    outcome = yield from _stage(context, names.EMBED, payload)
    merge(result, "embed", outcome)
    while outcome.more:
        outcome = yield from _stage(context, names.EMBED, payload)
        merge(result, "embed", outcome)
    context.set_custom_status(progress(result, "commit", task.page, index + 1, batches))
    merge(result, "commit", (yield from _stage(context, names.COMMIT, payload)))
    return prepared.fetch.min_failed_hint


def _page(context: df.DurableOrchestrationContext, task: SourceTask, result: SourceResult) -> Steps:
    """Discover one page, run its batches and deletions, advance the cursor; returns what discovery found."""
    dry = task.options.dry_run
    context.set_custom_status(progress(result, "discover", task.page))
    found = DiscoverResult.model_validate((yield from call(context, names.DISCOVER, DiscoverInput(
        run_id=task.run_id, source_id=task.source_id, page=task.page, cursor=task.cursor, since=task.since,
        batch_size=task.batch_size, full_refresh=task.options.full_refresh, dry_run=dry,
    ).model_dump(mode="json"))))
    merge(result, "discover", found)
    share = max(1, min(task.max_parallel_batches, len(found.batches)))  # batches fetching from it at once
    refs = [BatchRef(run_id=task.run_id, source_id=task.source_id, batch_id=batch_id, dry_run=dry,
                     reembed=task.options.reembed, share=share) for batch_id in found.batches]
    result.batches += len(refs)
    flows = [_batch(context, task, result, ref, index, len(refs)) for index, ref in enumerate(refs)]
    for hint in (yield from interleave(context, flows, task.max_parallel_batches)):
        task.min_failed_hint = earlier(task.min_failed_hint, hint)
    if found.deleted_batch and dry:
        result.counts = result.counts.add({"deleted": found.deleted})
    elif found.deleted_batch:
        context.set_custom_status(progress(result, "commit", task.page))
        deletions = CommitInput(run_id=task.run_id, source_id=task.source_id, batch_id=found.deleted_batch,
                                deletions=True)
        merge(result, "commit", (yield from _stage(context, names.COMMIT, deletions.model_dump(mode="json"))))
    task.high_water = later(task.high_water, found.high_water)
    if not dry:
        yield from call(context, names.CHECKPOINT, CheckpointInput(
            run_id=task.run_id, source_id=task.source_id, cursor=found.next_cursor).model_dump(mode="json"))
    return found


@bp.function_name(names.SOURCE_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def source_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    task = SourceTask.model_validate(context.get_input())
    result = task.result or SourceResult(source_id=task.source_id, status="running")
    try:
        if not task.started:
            context.set_custom_status(progress(result, "claim", task.page))
            start = SourceStart.model_validate(
                (yield from call(context, names.BEGIN_SOURCE, task.model_dump(mode="json"))))
            task.cursor, task.since, task.started = start.cursor, start.since, True
        for _ in range(task.pages_per_execution):
            found = yield from _page(context, task, result)
            if found.done:
                break
            task.cursor, task.page = found.next_cursor, task.page + 1
        else:  # history stays bounded: the next pages run in a fresh execution with the same instance id
            task.result = result
            context.continue_as_new(task.model_dump(mode="json"))
            return None
        result.status = source_status(result.counts, failure_threshold=task.failure_threshold)
    except Exception as exc:  # a permanent failure, or a transient one that outlived its retries
        result.status = "failed"
        result.message = failure_reason(exc)

    context.set_custom_status(progress(result, "publish", task.page))
    yield from publish_index(context, task, result)  # issue 22: the search index follows the corpus
    context.set_custom_status(progress(result, "done", task.page))
    finish = FinishSourceInput(run_id=task.run_id, result=result, dry_run=task.options.dry_run,
                               high_water=final_high_water(task.high_water, task.min_failed_hint),
                               full_refresh=task.options.full_refresh)
    try:
        yield from call(context, names.FINISH_SOURCE, finish.model_dump(mode="json"))
    except Exception as exc:  # the claim stays until it goes stale; the run still gets this source's result
        result.status = "failed"
        result.message = f"could not release the source: {exc}"[:500]
    return result.model_dump(mode="json")

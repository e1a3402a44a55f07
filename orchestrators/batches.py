"""A page's batches: one batch's stages (prepare → embed → commit), and the batch lane that works a share of
a page's batches one after another (``orchestrators.lanes``). The source orchestrator runs a page's batches
in its own history when one at a time is all it may do, else in ``max_parallel_batches`` lanes."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrators.calls import Steps, call
from orchestrators.source_steps import earlier, merge, progress
from shared import contracts, names
from shared.errors import failure_reason
from shared.models import BatchLaneTask, BatchRef, CommitInput, LaneOutcome, SourceResult
from shared.runs.outcome import after_fetch

bp = df.Blueprint()


def run_batch(context: df.DurableOrchestrationContext, ref: BatchRef, result: SourceResult, *, page: int,
              index: int, batches: int, status: dict[str, Any] | None = None) -> Steps:
    """One batch: prepare (fetch → extract → chunk) → embed → commit, adding to ``result``; returns the
    earliest change hint among documents that failed transiently (the high-water mark is held back to it).
    Embedding is bounded per activity (tokens, time): embed is called again while it says the batch has
    chunks left. ``status``: more fields for the custom status (a lane's number)."""
    extra = status or {}
    to_commit = CommitInput(**dict(ref))

    def show(phase: str) -> None:
        context.set_custom_status({**progress(result, phase, page, index + 1, batches), **extra})

    show("fetch")
    prepared = yield from call(context, contracts.PREPARE, ref)
    merge(result, "fetch", prepared.fetch)
    if prepared.chunk is not None:
        merge(result, "chunk", prepared.chunk)
    step = after_fetch(prepared.fetch, dry_run=ref.dry_run)
    if step == "commit_only":
        show("commit")
        merge(result, "commit", (yield from call(context, contracts.COMMIT, to_commit)))
    if step != "continue":
        return prepared.fetch.min_failed_hint
    show("embed")
    outcome = yield from call(context, contracts.EMBED, ref)
    merge(result, "embed", outcome)
    while outcome.more:
        outcome = yield from call(context, contracts.EMBED, ref)
        merge(result, "embed", outcome)
    show("commit")
    merge(result, "commit", (yield from call(context, contracts.COMMIT, to_commit)))
    return prepared.fetch.min_failed_hint


def run_share(context: df.DurableOrchestrationContext, lane: BatchLaneTask, result: SourceResult, *,
              status: dict[str, Any] | None = None) -> Steps:
    """A share of a page's batches in order; stops at the first permanent failure. Returns the lane's
    outcome (never raises)."""
    hint: str | None = None
    for index, ref in enumerate(lane.refs):
        try:
            hint = earlier(hint, (yield from run_batch(context, ref, result, page=lane.page, index=index,
                                                      batches=len(lane.refs), status=status)))
        except Exception as exc:  # a permanent failure, or a transient one that outlived its retries
            return LaneOutcome(result=result, min_failed_hint=hint, failure=failure_reason(exc))
    return LaneOutcome(result=result, min_failed_hint=hint)


@bp.function_name(names.BATCH_LANE)
@bp.orchestration_trigger(context_name="context")
def batch_lane(context: df.DurableOrchestrationContext) -> Steps:
    lane = contracts.BATCH_LANE.read_input(context.get_input())
    result = SourceResult(source_id=lane.source_id, status="running")
    outcome = yield from run_share(context, lane, result, status={"lane": lane.lane})
    context.set_custom_status({**progress(result, "done", lane.page), "lane": lane.lane})
    return contracts.BATCH_LANE.answer(outcome)

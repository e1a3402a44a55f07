"""The source orchestrator: one per (run, source). Claims the source, then page by page: discover →
for each batch fetch → chunk → embed → commit → advance the checkpoint cursor. After
``pages_per_execution`` pages it continues as new with its cursor and counts, so history stays bounded.
Any failure ends this source ``failed`` in its result; it never fails the run."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from orchestrators.retry import ACTIVITY_RETRY
from shared import names
from shared.models import (
    STAGES,
    BatchRef,
    DiscoverInput,
    DiscoverResult,
    SourceResult,
    SourceStart,
    SourceTask,
    StageResult,
)
from shared.outcome import source_status

bp = df.Blueprint()
MAX_ERRORS = 20
STAGE_ACTIVITY = {"fetch": names.FETCH, "chunk": names.CHUNK, "embed": names.EMBED, "commit": names.COMMIT}


def _merge(result: SourceResult, stage: str, outcome: StageResult | DiscoverResult) -> None:
    result.timings[stage] = round(result.timings.get(stage, 0.0) + outcome.seconds, 4)
    room = MAX_ERRORS - len(result.errors)
    if room > 0:
        result.errors.extend(outcome.errors[:room])
    if isinstance(outcome, StageResult):
        result.counts = result.counts.add(outcome.counts)


def _status(result: SourceResult, phase: str, page: int, batch: int = 0, batches: int = 0) -> dict[str, Any]:
    return {"source_id": result.source_id, "phase": phase, "page": page, "batch": batch,
            "batches": batches, "counts": result.counts.model_dump()}


class SourceFailed(Exception):
    """An activity reported a permanent failure (``{"fatal": reason}``): retrying cannot help."""


def _ok(outcome: Any) -> Any:
    if isinstance(outcome, dict) and "fatal" in outcome:
        raise SourceFailed(outcome["fatal"])
    return outcome


def _later(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else min(a, b)


@bp.function_name(names.SOURCE_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def source_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    task = SourceTask.model_validate(context.get_input())
    result = task.result or SourceResult(source_id=task.source_id, status="running")
    dry = task.options.dry_run
    try:
        if not task.started:
            context.set_custom_status(_status(result, "claim", task.page))
            start = SourceStart.model_validate(_ok(
                (yield context.call_activity_with_retry(names.BEGIN_SOURCE, ACTIVITY_RETRY,
                                                        task.model_dump(mode="json")))
            ))
            task.cursor, task.since, task.started = start.cursor, start.since, True

        for _ in range(task.pages_per_execution):
            context.set_custom_status(_status(result, "discover", task.page))
            found = DiscoverResult.model_validate(_ok((yield context.call_activity_with_retry(
                names.DISCOVER, ACTIVITY_RETRY, DiscoverInput(
                    run_id=task.run_id, source_id=task.source_id, page=task.page, cursor=task.cursor,
                    since=task.since, batch_size=task.batch_size,
                    full_refresh=task.options.full_refresh, dry_run=dry,
                ).model_dump(mode="json")))))
            _merge(result, "discover", found)
            result.pages += 1
            result.counts = result.counts.add({"discovered": found.discovered, "unchanged": found.unchanged,
                                               "deferred": found.deferred})

            for index, batch_id in enumerate(found.batches):
                ref = BatchRef(run_id=task.run_id, source_id=task.source_id, batch_id=batch_id,
                               dry_run=dry, reembed=task.options.reembed).model_dump(mode="json")
                result.batches += 1
                for stage in STAGES[1:]:
                    if dry and stage != "fetch":
                        break
                    context.set_custom_status(_status(result, stage, task.page, index + 1, len(found.batches)))
                    outcome = StageResult.model_validate(_ok(
                        (yield context.call_activity_with_retry(STAGE_ACTIVITY[stage], ACTIVITY_RETRY, ref))
                    ))
                    _merge(result, stage, outcome)
                    if stage == "fetch":
                        task.min_failed_hint = _earlier(task.min_failed_hint, outcome.min_failed_hint)
                        if outcome.items == 0:
                            break  # nothing fetched to chunk, embed or commit
                        if outcome.counts.added + outcome.counts.updated == 0:
                            outcome = StageResult.model_validate(_ok((yield context.call_activity_with_retry(
                                names.COMMIT, ACTIVITY_RETRY, ref))))
                            _merge(result, "commit", outcome)
                            break  # only unchanged documents: just record their new hints

            if found.deleted_batch:
                if dry:
                    result.counts = result.counts.add({"deleted": found.deleted})
                else:
                    ref = BatchRef(run_id=task.run_id, source_id=task.source_id,
                                   batch_id=found.deleted_batch).model_dump(mode="json")
                    context.set_custom_status(_status(result, "commit", task.page))
                    outcome = StageResult.model_validate(_ok((yield context.call_activity_with_retry(
                        names.COMMIT, ACTIVITY_RETRY, {**ref, "deletions": True}))))
                    _merge(result, "commit", outcome)

            task.high_water = _later(task.high_water, found.high_water)
            if not dry:
                yield context.call_activity_with_retry(names.CHECKPOINT, ACTIVITY_RETRY, {
                    "run_id": task.run_id, "source_id": task.source_id, "cursor": found.next_cursor})
            if found.done:
                break
            task.cursor, task.page = found.next_cursor, task.page + 1
        else:
            task.result = result
            context.continue_as_new(task.model_dump(mode="json"))
            return None

        result.status = source_status(result.counts, failure_threshold=task.failure_threshold)
    except Exception as exc:  # an activity failed after its retries: this source fails, the run goes on
        result.status = "failed"
        result.message = str(exc)[:500]

    high_water = _earlier(task.high_water, task.min_failed_hint) if task.min_failed_hint else task.high_water
    context.set_custom_status(_status(result, "done", task.page))
    yield context.call_activity_with_retry(names.FINISH_SOURCE, ACTIVITY_RETRY, {
        "run_id": task.run_id, "result": result.model_dump(mode="json"), "high_water": high_water,
        "dry_run": dry, "full_refresh": task.options.full_refresh})
    return result.model_dump(mode="json")

"""The source orchestrator's decisions, as pure functions (unit-tested without Durable): how results add
up and how far the high-water mark may move. (What a fetch result means for the rest of a batch is
``shared.runs.outcome.after_fetch``: the prepare activity decides with it whether to chunk.)"""

from __future__ import annotations

from typing import Any

from shared.models import DiscoverResult, SourceResult, Stage, StageResult

MAX_ERRORS = 20  # errors kept per source result


def merge(result: SourceResult, stage: Stage, outcome: StageResult | DiscoverResult) -> None:
    """Add one stage's timing, errors (the first ``MAX_ERRORS``) and counts to the source's result."""
    result.timings[stage] = round(result.timings.get(stage, 0.0) + outcome.seconds, 4)
    room = MAX_ERRORS - len(result.errors)
    if room > 0:
        result.errors.extend(outcome.errors[:room])
    if isinstance(outcome, StageResult):
        result.counts = result.counts.add(outcome.counts)
    else:
        result.pages += 1
        result.counts = result.counts.add({"discovered": outcome.discovered, "unchanged": outcome.unchanged,
                                           "deferred": outcome.deferred})


def absorb(result: SourceResult, lane: SourceResult) -> None:
    """Add what a batch lane did (counts, stage seconds, the first ``MAX_ERRORS`` errors) to the source's
    result. A lane's result is its own: ``result`` itself when the batches ran in the source's history."""
    if lane is result:
        return
    for stage, seconds in lane.timings.items():
        result.timings[stage] = round(result.timings.get(stage, 0.0) + seconds, 4)
    room = MAX_ERRORS - len(result.errors)
    if room > 0:
        result.errors.extend(lane.errors[:room])
    result.counts = result.counts.add(lane.counts)


def later(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b)


def earlier(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else min(a, b)


def final_high_water(high_water: str | None, min_failed_hint: str | None) -> str | None:
    """The high-water mark the source may record: the latest seen, held back to the earliest document
    that failed transiently (so the next incremental run asks for it again)."""
    return earlier(high_water, min_failed_hint) if min_failed_hint else high_water


def progress(result: SourceResult, phase: str, page: int, batch: int = 0, batches: int = 0) -> dict[str, Any]:
    """The source orchestrator's custom status."""
    return {"source_id": result.source_id, "phase": phase, "page": page, "batch": batch,
            "batches": batches, "counts": result.counts.model_dump()}

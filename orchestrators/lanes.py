"""Bounded parallelism the way the Durable extension runs it: fixed lanes.

The extension replays the actions a Python orchestrator returns in order and invokes action k+1 only when
action k has completed; the SDK puts into a ``WhenAny``/``WhenAll`` only the tasks not yielded before. A
sliding window (``task_any`` over the running tasks plus one new) therefore reaches Azure as ``WhenAny[new]``:
after its first wave, one task at a time (docs/architecture.md, "Parallelism").

So work that may run k at a time is split into k *lanes*: k sub-orchestrations, started together with one
``task_all`` (a single action of fresh tasks, all invoked at once), each working its share in order (every
yield in a lane is one fresh task). A lane never fails as an orchestration — it returns its outcome —
because ``task_all`` fails fast in the SDK while the extension still waits for the other lanes.

Each share is fixed when the lanes start, so lanes are balanced by the work known up front: batches are
sized by work (round robin), sources by their last run's duration (longest first, to the least loaded lane).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase, TaskState

from orchestrators.calls import Steps
from shared.errors import failure_reason


def shares[T](items: Sequence[T], lanes: int, weights: Sequence[float] | None = None) -> list[list[T]]:
    """``items`` split into at most ``lanes`` non-empty shares, each in the items' order. Without weights,
    round robin; with weights, longest first onto the least loaded lane (ties: the lower lane)."""
    if not items:
        return []
    k = max(1, min(lanes, len(items)))
    if weights is None:
        return [list(items[i::k]) for i in range(k)]
    load = [(0.0, lane) for lane in range(k)]
    chosen: list[list[int]] = [[] for _ in range(k)]
    for index in sorted(range(len(items)), key=lambda i: (-weights[i], i)):
        total, lane = heapq.heappop(load)
        chosen[lane].append(index)
        heapq.heappush(load, (total + weights[index], lane))
    return [[items[i] for i in sorted(picked)] for picked in chosen if picked]


def join(context: df.DurableOrchestrationContext, tasks: list[TaskBase]) -> Steps:
    """``outcomes = yield from join(context, tasks)``: wait for every task (fresh ones, yielded here once)
    and return ``(succeeded, value or exception)`` for each, in order. ``task_all`` fails as soon as one
    task fails; the others are still running then, and the extension still awaits them all, so this waits
    on the rest again — the same tasks, no new action — until every one has ended."""
    if not tasks:
        return []
    try:
        yield context.task_all(tasks)
    except Exception:  # a task failed; wait for the others (they are the extension's current action too)
        while not all(task.is_completed for task in tasks):
            try:
                yield context.task_all([task for task in tasks if not task.is_completed])
            except Exception:
                continue
    return [(task.state is TaskState.SUCCEEDED, task.result) for task in tasks]


def lane_failure(value: Any) -> str:
    """A lane that failed as an orchestration (a bug, or terminated): its reason on one line."""
    return failure_reason(value if isinstance(value, BaseException) else str(value))

"""Running several step sequences of one orchestrator at once, in a bounded window.

A *flow* is an orchestrator generator written for ``yield from`` (it yields Durable tasks and gets their
results back, e.g. one batch's fetch → chunk → embed → commit, with ``orchestrators.calls.call``). ``interleave``
drives up to ``window`` flows together: it keeps each flow's pending task, waits with ``task_any`` (so Azure
spreads the activities over instances, and a failing flow never cancels the others as ``task_all`` would),
and sends the winner's result (or throws its exception) into the flow it belongs to. Replays are
deterministic: ``task_any`` resolves to the task that completed first in the history.

If a flow raises, no new flow is started, the running ones are driven to their end (their activities are
in flight: their writes must land before the caller acts on the failure), then the first error is raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase, TaskState

from orchestrators.calls import Steps


def interleave(context: df.DurableOrchestrationContext, flows: Iterable[Steps], window: int) -> Steps:
    """``results = yield from interleave(context, flows, window)``: the flows' return values, in order."""
    queue = list(enumerate(flows))
    total = len(queue)
    running: dict[int, tuple[Steps, TaskBase]] = {}
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def advance(index: int, flow: Steps, task: TaskBase | None) -> None:
        """Resume ``flow`` with the outcome of ``task`` (``None``: start it) up to its next task or its end."""
        try:
            if task is None:
                step = next(flow)
            elif task.state is TaskState.FAILED:
                step = flow.throw(task.result)
            else:
                step = flow.send(task.result)
        except StopIteration as stop:
            results[index] = stop.value
            return
        except Exception as exc:  # the flow failed: remembered, raised once the others are done
            errors.append(exc)
            return
        running[index] = (flow, step)

    while True:
        while queue and not errors and len(running) < max(1, window):
            index, flow = queue.pop(0)
            advance(index, flow, None)
        if not running:
            break
        winner = yield context.task_any([task for _, task in running.values()])
        index = next(i for i, (_, task) in running.items() if task is winner)
        flow, _ = running.pop(index)
        advance(index, flow, winner)
    if errors:
        raise errors[0]
    return [results[i] for i in range(total)]

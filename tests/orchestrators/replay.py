"""Harvest's orchestrators replayed in memory through the Durable SDK, the way the SDK's own tests do
(azure-functions-durable-python, ``tests/orchestrator/``: a context JSON holding a history is handed to the
orchestrator function and the actions it returns are compared) — no host, no storage, a few ms a replay.

``Replay`` keeps one orchestration's history. ``next()`` replays all of it through the function the worker
calls (``Orchestrator.create``'s handle, schema V2 as the extension sends it) and returns the actions of the
newest yield; ``answer(...)`` records the results of those actions as the extension would (the activity's
envelope in ``TaskCompleted``, a sub-orchestration's output or failure), so the next ``next()`` sees them.
Every replay also checks that the earlier yields came out the same (an orchestrator must be deterministic).

The SDK (1.7) resolves a task by its own counter: the n-th task the orchestrator creates is ``TaskScheduledId``
n, whatever the history says it scheduled; ``answer`` numbers the results that way. Every result goes through
its function's contract (``shared.contracts``), so a history here is one the real activities could write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType as E
from azure.functions.decorators.function_app import FunctionBuilder
from pydantic import BaseModel

from shared import contracts

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
KINDS = {ActionType.CALL_ACTIVITY: "activity", ActionType.CALL_ACTIVITY_WITH_RETRY: "activity",
         ActionType.CALL_SUB_ORCHESTRATOR: "sub", ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY: "sub",
         ActionType.CREATE_TIMER: "timer", ActionType.CONTINUE_AS_NEW: "continue_as_new"}
COMPOUND = {ActionType.WHEN_ALL, ActionType.WHEN_ANY}
CONTRACTS = {c.name: c for c in vars(contracts).values() if isinstance(c, contracts.Contract)}


@dataclass(frozen=True)
class Action:
    """One thing the orchestrator asked for: ``kind`` (activity, sub, timer, continue_as_new), the function
    it names, its input (decoded) and, for a sub-orchestration, the instance id it gave."""

    kind: str
    name: str | None = None
    input: Any = None
    instance_id: str | None = None


@dataclass(frozen=True)
class Answer:
    """The result of one action: ``ok`` with a value, ``refused`` (the activity's ``failed`` envelope), or
    ``crashed`` (the task itself failed: an activity out of retries, a failed or terminated sub-orchestration)."""

    outcome: str
    value: Any = None


def ok(value: Any = None) -> Answer:
    """Success; no value: the output model's defaults (``Done`` for checkpoint and finish_source)."""
    return Answer("ok", value.model_dump(mode="json") if isinstance(value, BaseModel) else value or {})


def refused(reason: str) -> Answer:
    return Answer("refused", reason)


def crashed(reason: str) -> Answer:
    return Answer("crashed", reason)


def _json(value: Any) -> str:
    return json.dumps(value.model_dump(mode="json") if isinstance(value, BaseModel) else value)


def _actions(action: dict[str, Any]) -> list[Action]:
    """The atomic actions in one yielded action (a ``task_all`` holds several; a call with retry is a compound
    of one in schema V2)."""
    kind = ActionType(action["actionType"])
    if kind in COMPOUND:
        return [a for child in action["compoundActions"] for a in _actions(child)]
    raw = action.get("input")
    return [Action(KINDS[kind], action.get("functionName"), json.loads(raw) if isinstance(raw, str) else raw,
                   action.get("instanceId"))]


class Replay:
    """One orchestration's history, replayed through the SDK at every ``next()``."""

    def __init__(self, orchestrator: FunctionBuilder, payload: BaseModel | dict[str, Any], *,
                 instance_id: str = "run-1", parent: str | None = None) -> None:
        self.handle = orchestrator._function.get_user_function()  # what the worker calls with the context JSON
        self.input = _json(payload)
        self.instance_id, self.parent = instance_id, parent
        self.now = T0
        self.history: list[dict[str, Any]] = [self._event(E.ORCHESTRATOR_STARTED),
                                              self._event(E.EXECUTION_STARTED, Input=self.input, Version="")]
        self.steps: list[list[Action]] = []  # every yield so far, in order
        self.state: dict[str, Any] = {}
        self.error: str | None = None
        self.tasks = 0  # tasks answered so far: the SDK's counter for the next one

    def _event(self, kind: E, event_id: int = -1, **fields: Any) -> dict[str, Any]:
        return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False,
                "Timestamp": self.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **fields}

    def next(self) -> list[Action]:
        """Replay the whole history; the actions of the orchestrator's newest yield ([] when it ended)."""
        context = {"history": self.history, "instanceId": self.instance_id, "isReplaying": False,
                   "parentInstanceId": self.parent, "input": self.input, "upperSchemaVersion": 2}
        try:
            self.state, self.error = json.loads(self.handle(json.dumps(context))), None
        except Exception as exc:  # the orchestrator raised: the SDK appends its state after this marker
            message, _, state = str(exc).partition("\n\n$OutOfProcData$:")
            self.state, self.error = json.loads(state), message
        yielded = [_actions(action) for action in (self.state.get("actions") or [[]])[0]]
        assert yielded[:len(self.steps)] == self.steps, "replaying the same history gave other actions"
        new = yielded[len(self.steps):]
        assert len(new) <= 1, f"more than one new yield in one replay: {new}"
        self.steps = yielded
        return new[0] if new else []

    def answer(self, *answers: Answer) -> None:
        """The results of the newest yield's actions, in their order, as the extension records them: the
        scheduling events close this episode, the completions open the next one."""
        actions = self.steps[-1]
        assert len(answers) == len(actions), f"{len(actions)} actions, {len(answers)} answers"
        first = self.tasks
        for i, action in enumerate(actions):
            kind = E.TASK_SCHEDULED if action.kind == "activity" else E.SUB_ORCHESTRATION_INSTANCE_CREATED
            self.history.append(self._event(kind, first + i, Name=action.name, InstanceId=action.instance_id))
        self.history.append(self._event(E.ORCHESTRATOR_COMPLETED))
        self.now += timedelta(seconds=1)
        self.history.append(self._event(E.ORCHESTRATOR_STARTED))
        for i, (action, answer) in enumerate(zip(actions, answers, strict=True)):
            self.history.append(self._completion(first + i, action, answer))
        self.tasks += len(actions)

    def _completion(self, task_id: int, action: Action, answer: Answer) -> dict[str, Any]:
        activity = action.kind == "activity"
        contract = CONTRACTS[str(action.name)]
        value = contract.answer(contract.result(answer.value)) if answer.outcome == "ok" else answer.value
        if answer.outcome == "crashed":
            kind = E.TASK_FAILED if activity else E.SUB_ORCHESTRATION_INSTANCE_FAILED
            return self._event(kind, TaskScheduledId=task_id, Reason=answer.value, Details="")
        if activity:  # the envelope every guarded activity returns (shared.envelope)
            result = ({"outcome": "ok", "value": value} if answer.outcome == "ok"
                      else {"outcome": "failed", "reason": value})
            return self._event(E.TASK_COMPLETED, TaskScheduledId=task_id, Result=json.dumps(result))
        assert answer.outcome == "ok", "a sub-orchestration either returns (ok) or fails (crashed)"
        return self._event(E.SUB_ORCHESTRATION_INSTANCE_COMPLETED, TaskScheduledId=task_id, Result=json.dumps(value))

    def step(self, *answers: Answer) -> list[Action]:
        """``answer(*answers)`` then ``next()``."""
        self.answer(*answers)
        return self.next()

    @property
    def done(self) -> bool:
        return bool(self.state.get("isDone"))

    @property
    def output(self) -> Any:
        return self.state.get("output")

    @property
    def custom_status(self) -> Any:
        return self.state.get("customStatus")


def names_of(actions: list[Action]) -> list[tuple[str, str | None]]:
    return [(a.kind, a.name) for a in actions]

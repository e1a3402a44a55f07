"""History events in the shape the Durable Python SDK (1.7) replays, and small helpers."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

# HistoryEventType codes (azure/durable_functions/models/history/HistoryEventType.py)
EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
EXECUTION_FAILED = 2
EXECUTION_TERMINATED = 3
TASK_SCHEDULED = 4
TASK_COMPLETED = 5
TASK_FAILED = 6
SUB_ORCHESTRATION_CREATED = 7
SUB_ORCHESTRATION_COMPLETED = 8
SUB_ORCHESTRATION_FAILED = 9
TIMER_CREATED = 10
TIMER_FIRED = 11
ORCHESTRATOR_STARTED = 12
ORCHESTRATOR_COMPLETED = 13
EVENT_RAISED = 15
CONTINUE_AS_NEW = 16

# Events that resolve a task, and the field that names the task.
COMPLETION_KEYS: dict[int, str] = {
    TASK_COMPLETED: "TaskScheduledId",
    TASK_FAILED: "TaskScheduledId",
    SUB_ORCHESTRATION_COMPLETED: "TaskScheduledId",
    SUB_ORCHESTRATION_FAILED: "TaskScheduledId",
    TIMER_FIRED: "TimerId",
}
SCHEDULING_TYPES = {TASK_SCHEDULED, SUB_ORCHESTRATION_CREATED, TIMER_CREATED}
TERMINAL_TYPES = {EXECUTION_COMPLETED, EXECUTION_FAILED, EXECUTION_TERMINATED}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(ts: dt.datetime) -> str:
    """The SDK's DATETIME_STRING_FORMAT ('%Y-%m-%dT%H:%M:%S.%fZ') in UTC."""
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=65536)
def parse_ts(text: str) -> dt.datetime:
    """Parse an ISO timestamp once (cached); falls back to dateutil for odd formats."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        from dateutil.parser import parse

        value = parse(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def install_fast_timestamp_parsing() -> None:
    """Replay parses every event's timestamp on every replay; make that a cached lookup."""
    import importlib

    module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
    module.dt_parse = parse_ts  # type: ignore[attr-defined]


def event(event_type: int, event_id: int = -1, ts: dt.datetime | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "EventType": event_type,
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": iso(ts or utcnow()),
    }
    body.update(fields)
    return body


def execution_started(name: str, input_json: str | None, parent: dict[str, Any] | None) -> dict[str, Any]:
    return event(
        EXECUTION_STARTED, Name=name, Input=input_json, Version="",
        ParentInstance=parent,
    )


def task_failed(task_id: int, reason: str, details: str) -> dict[str, Any]:
    return event(TASK_FAILED, TaskScheduledId=task_id, Reason=reason, Details=details)


def completion_id(ev: dict[str, Any]) -> int | None:
    key = COMPLETION_KEYS.get(ev["EventType"])
    return None if key is None else ev.get(key)


# EventType names of the status API (DTFx ``EventType``)
EVENT_NAMES = {
    EXECUTION_STARTED: "ExecutionStarted", EXECUTION_COMPLETED: "ExecutionCompleted",
    EXECUTION_FAILED: "ExecutionFailed", EXECUTION_TERMINATED: "ExecutionTerminated",
    TASK_SCHEDULED: "TaskScheduled", TASK_COMPLETED: "TaskCompleted", TASK_FAILED: "TaskFailed",
    SUB_ORCHESTRATION_CREATED: "SubOrchestrationInstanceCreated",
    SUB_ORCHESTRATION_COMPLETED: "SubOrchestrationInstanceCompleted",
    SUB_ORCHESTRATION_FAILED: "SubOrchestrationInstanceFailed", TIMER_CREATED: "TimerCreated",
    TIMER_FIRED: "TimerFired", ORCHESTRATOR_STARTED: "OrchestratorStarted",
    ORCHESTRATOR_COMPLETED: "OrchestratorCompleted", EVENT_RAISED: "EventRaised", CONTINUE_AS_NEW: "ContinueAsNew",
}


def _token(value: Any) -> Any:
    """``ParseToJToken``: a result that is JSON text becomes the JSON value; anything else stays text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def status_history(events: list[dict[str, Any]], *, with_output: bool, with_input: bool) -> list[dict[str, Any]]:
    """An instance's history as the extension's status API shows it (``showHistory=true``; extension
    ``DurableClient.GetDurableOrchestrationStatusAsync``): ``EventType`` by name; a completion carries its
    task's ``FunctionName`` and ``ScheduledTime`` and the scheduling event itself is left out, as are
    ``OrchestratorStarted``/``OrchestratorCompleted``; ``EventId``, ``IsPlayed``, ``TaskScheduledId``,
    ``TimerId`` are dropped; ``Result`` (with ``showHistoryOutput``) is the parsed JSON; ``Input`` only with
    ``showInput``."""
    scheduled: dict[tuple[int, int], dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for ev in events:
        t = ev["EventType"]
        if t in (ORCHESTRATOR_STARTED, ORCHESTRATOR_COMPLETED):
            continue
        if t in (TASK_SCHEDULED, SUB_ORCHESTRATION_CREATED):
            scheduled[(t, int(ev["EventId"]))] = ev
            continue
        item = {k: v for k, v in ev.items()
                if k not in ("EventId", "IsPlayed", "MessageId", "TaskScheduledId", "CarryoverEvents")}
        item["EventType"] = EVENT_NAMES.get(t, str(t))
        kind = {TASK_COMPLETED: TASK_SCHEDULED, TASK_FAILED: TASK_SCHEDULED,
                SUB_ORCHESTRATION_COMPLETED: SUB_ORCHESTRATION_CREATED,
                SUB_ORCHESTRATION_FAILED: SUB_ORCHESTRATION_CREATED}.get(t)
        if kind is not None and (origin := scheduled.get((kind, int(ev.get("TaskScheduledId", -1))))) is not None:
            item["ScheduledTime"] = origin.get("Timestamp")
            item["FunctionName"] = origin.get("Name")
            if with_input:
                item["Input"] = origin.get("Input")
        if t == EXECUTION_STARTED:
            item["FunctionName"] = item.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags"):
                item.pop(key, None)
        if t == TIMER_FIRED:
            item.pop("TimerId", None)
        if t in (TASK_COMPLETED, SUB_ORCHESTRATION_COMPLETED, EXECUTION_COMPLETED):
            if with_output:
                item["Result"] = _token(item.get("Result"))
            else:
                item.pop("Result", None)
        if not with_input and kind is None:
            item.pop("Input", None)
        out.append(item)
    return out

"""History events in the shape the Durable Python SDK (1.7) replays, and small helpers."""

from __future__ import annotations

import datetime as dt
import functools
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

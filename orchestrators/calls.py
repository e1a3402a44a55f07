"""Calling an activity: the Durable retry policy for transient errors, then the envelope the activity
returned (``shared.envelope``): ``ok`` gives the value, ``failed`` raises ``ActivityFailed`` (permanent:
retrying cannot help), ``retry`` waits on a durable timer for as long as the server asked (bounded) and
calls again — the SDK's ``RetryOptions`` only know a first interval and a count, not ``Retry-After``."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase
from pydantic import BaseModel

from shared.contracts import Activity, Orchestration
from shared.envelope import Envelope

# transient errors without a server-given wait: timeouts, 5xx, connection errors, storage hiccups
ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2_000, max_number_of_attempts=4)
MAX_WAITS = 5  # ``retry`` envelopes honoured per call before giving up
MAX_WAIT_S = 900.0  # one wait is capped at 15 minutes, whatever the server asked
MIN_WAIT_S = 0.1

# What an orchestrator generator yields and is sent back (SDK tasks in, their results out).
Steps = Generator[Any, Any, Any]


class ActivityFailed(Exception):
    """An activity reported a failure that retrying in this run cannot fix."""

    def __init__(self, activity: str, reason: str) -> None:
        super().__init__(reason)
        self.activity = activity
        self.reason = reason


def wait_seconds(retry_after: float | None) -> float:
    return min(max(retry_after or 0.0, MIN_WAIT_S), MAX_WAIT_S)


def call[I: BaseModel, O: BaseModel](context: df.DurableOrchestrationContext, activity: Activity[I, O],
                                     payload: I) -> Generator[Any, Any, O]:
    """``value = yield from call(context, contracts.X, request)``: the activity's result, as its model."""
    body = activity.payload(payload)
    first = yield context.call_activity_with_retry(activity.name, ACTIVITY_RETRY, body)
    return activity.result((yield from settle(context, activity.name, body, first)))


def start[I: BaseModel, O: BaseModel](context: df.DurableOrchestrationContext, orchestration: Orchestration[I, O],
                                      payload: I, instance_id: str) -> TaskBase:
    """The task of a sub-orchestration (to yield, alone or in a ``task_all``); read its result with
    ``orchestration.result``."""
    return context.call_sub_orchestrator(orchestration.name, orchestration.payload(payload), instance_id)


def settle(context: df.DurableOrchestrationContext, name: str, payload: Any, raw: Any) -> Steps:
    """The value of the activity result ``raw``: raises ``ActivityFailed`` on a permanent failure, waits and
    calls again when asked to retry."""
    for attempt in range(MAX_WAITS + 1):
        result = Envelope.read(raw)
        if result.outcome == "ok":
            return result.value
        reason = result.reason or "no reason given"
        if result.outcome == "failed":
            raise ActivityFailed(name, reason)
        if attempt == MAX_WAITS:
            break
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=wait_seconds(result.retry_after)))
        raw = yield context.call_activity_with_retry(name, ACTIVITY_RETRY, payload)
    raise ActivityFailed(name, f"still asked to retry after {MAX_WAITS} waits: {reason}")

"""Turn the SDK's replay output (schema V2/V3 actions) into history events and work items.

Task ids: the SDK numbers every scheduled task (activities, sub-orchestrations, timers,
continue-as-new) with one counter, in the order it meets them. Retries (RetryAbleTask) take ids
too, when the SDK *processes* the failure (timer id) and the retry timer (id of the rescheduled
task). So within an episode the retry-consuming events are delivered first: their ids come before
the ids of whatever the generator schedules in the same episode, exactly as the SDK counts them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import history as h

CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY = 0, 1, 2, 3
CONTINUE_AS_NEW, CREATE_TIMER, WAIT_FOR_EVENT = 4, 5, 6
CALL_ENTITY, CALL_HTTP, SIGNAL_ENTITY, WHEN_ANY, WHEN_ALL = 7, 8, 9, 11, 12
UNSUPPORTED = {CALL_ENTITY: "durable entities", CALL_HTTP: "call_http", SIGNAL_ENTITY: "durable entities"}

WorkItem = tuple[Any, ...]


def flatten_actions(actions: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for action in actions:
        if isinstance(action, list):
            out.extend(flatten_actions(action))
        elif action.get("actionType") in (WHEN_ANY, WHEN_ALL):
            out.extend(flatten_actions(action.get("compoundActions") or []))
        elif "actionType" in action:
            out.append(action)
    return out


def _consumes_retry_id(ev: dict[str, Any], retries: dict[str, Any]) -> bool:
    t = ev["EventType"]
    if t in (h.TASK_FAILED, h.SUB_ORCHESTRATION_FAILED):
        return str(ev.get("TaskScheduledId")) in retries
    if t == h.TIMER_FIRED:
        r = retries.get(str(ev.get("TimerId")))
        return r is not None and r["attempt"] < r["max"]
    return False


def split_retry_first(events: list[dict[str, Any]], meta: dict[str, Any]) -> list[dict[str, Any]]:
    first = [e for e in events if _consumes_retry_id(e, meta["retries"])]
    return first + [e for e in events if not _consumes_retry_id(e, meta["retries"])]


def _take_id(meta: dict[str, Any]) -> int:
    tid = int(meta["next_id"])
    meta["next_id"] = tid + 1
    return tid


def _schedule(kind: str, tid: int, name: str, input_json: str | None, instance_id: str | None,
              parent_id: str, planned: list[dict[str, Any]], work: list[WorkItem]) -> None:
    if kind == "activity":
        planned.append(h.event(h.TASK_SCHEDULED, tid, Name=name, Input=input_json))
        work.append(("activity", tid, name, input_json))
    else:
        child = instance_id or f"{parent_id}:{tid}"
        planned.append(h.event(h.SUB_ORCHESTRATION_CREATED, tid, Name=name, Input=input_json, InstanceId=child))
        work.append(("suborch", tid, name, input_json, child))


def plan_retry(ev: dict[str, Any], meta: dict[str, Any], planned: list[dict[str, Any]],
               work: list[WorkItem], now: dt.datetime, parent_id: str) -> None:
    """Bookkeeping for call_*_with_retry: failure -> retry timer -> rescheduled task."""
    retries: dict[str, Any] = meta["retries"]
    t = ev["EventType"]
    if t in (h.TASK_COMPLETED, h.SUB_ORCHESTRATION_COMPLETED):
        retries.pop(str(ev.get("TaskScheduledId")), None)
    elif t in (h.TASK_FAILED, h.SUB_ORCHESTRATION_FAILED):
        r = retries.pop(str(ev.get("TaskScheduledId")), None)
        if r is None:
            return
        tid = _take_id(meta)
        # the SDK waits for one timer after the last attempt too; that one need not wait
        delay = r["first_ms"] if r["attempt"] < r["max"] else 0
        fire_at = h.iso(now + dt.timedelta(milliseconds=delay))
        planned.append(h.event(h.TIMER_CREATED, tid, FireAt=fire_at))
        work.append(("timer", tid, fire_at))
        retries[str(tid)] = r
    elif t == h.TIMER_FIRED:
        forget_fired_timer(meta, ev.get("TimerId"))
        r = retries.pop(str(ev.get("TimerId")), None)
        if r is None or r["attempt"] >= r["max"]:
            return
        tid = _take_id(meta)
        r = {**r, "attempt": r["attempt"] + 1}
        _schedule(r["kind"], tid, r["name"], r["input"], r.get("instance_id"), parent_id, planned, work)
        retries[str(tid)] = r


def plan_actions(flat: list[dict[str, Any]], meta: dict[str, Any], planned: list[dict[str, Any]],
                 work: list[WorkItem], parent_id: str) -> tuple[str | None, str | None]:
    """Schedule the actions not seen before. Returns (error, continue_as_new_input)."""
    for index, tid in list(meta["timers"].items()):
        i = int(index)
        if i < len(flat) and flat[i].get("isCanceled"):
            meta["cancelled"].append(tid)
            del meta["timers"][index]
    continue_input: str | None = None
    error: str | None = None
    for i in range(int(meta["n_actions"]), len(flat)):
        action = flat[i]
        at = action["actionType"]
        if at == WAIT_FOR_EVENT:
            continue
        tid = _take_id(meta)
        if at in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY):
            kind = "activity" if at in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY) else "suborch"
            _schedule(kind, tid, action["functionName"], action.get("input"), action.get("instanceId"),
                      parent_id, planned, work)
            if at in (CALL_ACTIVITY_RETRY, CALL_SUB_RETRY):
                opts = action.get("retryOptions") or {}
                meta["retries"][str(tid)] = {
                    "kind": kind, "name": action["functionName"], "input": action.get("input"),
                    "instance_id": action.get("instanceId"), "attempt": 1,
                    "first_ms": int(opts.get("firstRetryIntervalInMilliseconds", 1000)),
                    "max": int(opts.get("maxNumberOfAttempts", 1)),
                }
        elif at == CREATE_TIMER:
            planned.append(h.event(h.TIMER_CREATED, tid, FireAt=action["fireAt"]))
            if action.get("isCanceled"):
                meta["cancelled"].append(tid)
            else:
                meta["timers"][str(i)] = tid
                work.append(("timer", tid, action["fireAt"]))
        elif at == CONTINUE_AS_NEW:
            continue_input = action.get("input")
        else:
            feature = UNSUPPORTED.get(at, f"action type {at}")
            error = f"{feature} are not supported by the Harvest local host (devhost)"
    meta["n_actions"] = len(flat)
    return error, continue_input


def forget_fired_timer(meta: dict[str, Any], tid: Any) -> None:
    for index, value in list(meta["timers"].items()):
        if value == tid:
            del meta["timers"][index]

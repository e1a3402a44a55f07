"""Read a run's orchestration history from the local host's task hub in Blob, and time its rounds.

The local host keeps ``instances/<id>/history-<execution>.jsonl`` append blobs in ``durable-<hub>``: one
JSON line per replay round, ``{"seq", "events", "meta"}``. A run is the run orchestrator (instance id =
run id) plus one source orchestrator per source (``<run_id>:<source_id>``). Executions replaced by
``continue_as_new`` are deleted by the host, so the proxy's count of appended events
(``bench.proxy``) is the complete one; this reader cross-checks it and times what the history shows.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from azure.storage.blob.aio import ContainerClient

from devhost import history as h
from devhost.store import decode_id


async def read_run_history(connection_string: str, container: str, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """``{instance id: [round, ...]}`` for the run's instances still in the hub (latest executions)."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with ContainerClient.from_connection_string(connection_string, container) as client:
        async for item in client.list_blobs(name_starts_with="instances/"):
            parts = item.name.split("/")
            if len(parts) != 3 or not parts[2].startswith("history-"):
                continue
            instance = decode_id(parts[1])
            if instance != run_id and not instance.startswith(run_id + ":"):
                continue
            raw = await (await client.download_blob(item.name)).readall()
            rounds = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
            out.setdefault(instance, []).extend(rounds)
    return out


def _ts(ev: dict[str, Any]) -> datetime:
    return h.parse_ts(ev["Timestamp"])


def activity_spans(history: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, datetime, datetime]]:
    """``(instance, activity, scheduled, ended)`` of every activity call that completed or failed (task ids
    are per instance: each instance's history is paired on its own)."""
    spans: list[tuple[str, str, datetime, datetime]] = []
    for instance, rounds in history.items():
        scheduled: dict[int, tuple[str, datetime]] = {}
        for line in rounds:
            for ev in line["events"]:
                if ev["EventType"] == h.TASK_SCHEDULED:
                    scheduled[ev["EventId"]] = (str(ev.get("Name")), _ts(ev))
                elif ev["EventType"] in (h.TASK_COMPLETED, h.TASK_FAILED) and ev["TaskScheduledId"] in scheduled:
                    name, start = scheduled.pop(ev["TaskScheduledId"])
                    spans.append((instance, name, start, _ts(ev)))
    return spans


def summarize(history: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Event counts by type (and activity calls by name), and where the time between activities goes
    (from event timestamps).

    ``activity_s``: TaskScheduled → TaskCompleted (dispatch, the activity's own setup and its work);
    ``replay_s``: a round's OrchestratorStarted → its last event (the SDK replaying the whole history
    and planning what comes next); ``handoff_s``: TaskCompleted → the OrchestratorStarted of the round
    that delivers it (saving the result, queueing, persisting the previous round)."""
    types: Counter[str] = Counter()
    tasks: Counter[str] = Counter()
    activity = replay = handoff = 0.0
    rounds = 0
    for rounds_of in history.values():
        scheduled: dict[int, datetime] = {}
        completed_at: dict[int, datetime] = {}
        for line in rounds_of:
            events = line["events"]
            rounds += 1
            for ev in events:
                types[h.EVENT_NAMES.get(ev["EventType"], str(ev["EventType"]))] += 1
            start = next((e for e in events if e["EventType"] == h.ORCHESTRATOR_STARTED), None)
            if start is None:
                continue
            began = _ts(start)
            replay += max(0.0, (max(_ts(e) for e in events) - began).total_seconds())
            for ev in events:
                t = ev["EventType"]
                if t == h.TASK_SCHEDULED:
                    scheduled[ev["EventId"]] = _ts(ev)
                    tasks[str(ev.get("Name"))] += 1
                elif t == h.TASK_COMPLETED:
                    tid = ev["TaskScheduledId"]
                    completed_at[tid] = _ts(ev)
                    if tid in scheduled:
                        activity += (completed_at[tid] - scheduled[tid]).total_seconds()
                    handoff += max(0.0, (began - completed_at[tid]).total_seconds())
    return {
        "events": sum(types.values()),
        "rounds": rounds,
        "by_type": dict(types.most_common()),
        "tasks_by_activity": dict(tasks.most_common()),
        "activity_s": round(activity, 3),
        "replay_s": round(replay, 3),
        "handoff_s": round(handoff, 3),
    }

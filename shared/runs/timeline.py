"""Documents processed over time, from the Durable history of a run's source orchestrations and their batch
lanes.

Each completed ``discover`` contributes the documents it found unchanged (dropped by their change hint),
each completed ``prepare`` the documents its fetch classified (added, updated, unchanged, failed), at the
time the activity completed. Activity results are envelopes (``shared.envelope``: ``{"outcome": "ok",
"value": ...}``). The history is read as the Durable status API shows it (``showHistory=true``: completions
carry ``FunctionName``; the local host mirrors that, ``devhost.history.status_history``); a raw history whose
``TaskScheduled`` events carry the names works too. Pure.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared import names

DOC_FIELDS = ("added", "updated", "unchanged", "failed")


def _result(ev: dict[str, Any]) -> dict[str, Any]:
    """The activity's value: the envelope's ``value`` (results may be JSON text, possibly twice encoded)."""
    value: Any = ev.get("Result")
    try:
        while isinstance(value, str):
            value = json.loads(value)
    except ValueError:
        return {}
    if isinstance(value, dict) and value.get("outcome") == "ok" and "value" in value:
        value = value["value"]
    return value if isinstance(value, dict) else {}


def _when(ev: dict[str, Any]) -> datetime | None:
    stamp = ev.get("Timestamp")
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def processed_events(history: list[dict[str, Any]]) -> list[tuple[datetime, int]]:
    """(time, documents) for each discover/prepare completion in these orchestrations' histories."""
    scheduled = {ev.get("EventId"): ev.get("Name") for ev in history if ev.get("EventType") in ("TaskScheduled", 4)}
    out: list[tuple[datetime, int]] = []
    for ev in history:
        if ev.get("EventType") not in ("TaskCompleted", 5):
            continue
        name = ev.get("FunctionName") or scheduled.get(ev.get("TaskScheduledId"))
        when = _when(ev)
        if when is None or name not in (names.DISCOVER, names.PREPARE):
            continue
        result = _result(ev)
        if name == names.DISCOVER:
            docs = int(result.get("unchanged", 0) or 0)
        else:
            counts = (result.get("fetch") or {}).get("counts") or {}
            docs = sum(int(counts.get(k, 0) or 0) for k in DOC_FIELDS)
        if docs:
            out.append((when, docs))
    return out


def cumulative(events: list[tuple[datetime, int]], start: datetime | None) -> list[dict[str, Any]]:
    """Sorted cumulative points ``{"t": iso, "s": seconds since start, "documents": n}``, from 0 at start."""
    ordered = sorted(events)
    if not ordered:
        return []
    origin = start or ordered[0][0]
    points = [{"t": origin.isoformat(), "s": 0.0, "documents": 0}]
    total = 0
    for when, docs in ordered:
        total += docs
        points.append({"t": when.isoformat(), "s": round((when - origin).total_seconds(), 3), "documents": total})
    return points


def from_source_results(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """A coarse timeline when no history is available: each source's documents at its finish time."""
    events = []
    for r in (summary.get("sources") or {}).values():
        finished = r.get("finished_at")
        if not finished:
            continue
        counts = r.get("counts") or {}
        docs = sum(int(counts.get(k, 0) or 0) for k in DOC_FIELDS)
        events.append((datetime.fromisoformat(str(finished).replace("Z", "+00:00")), docs))
    started = summary.get("started_at")
    start = datetime.fromisoformat(str(started).replace("Z", "+00:00")) if started else None
    return cumulative(events, start)

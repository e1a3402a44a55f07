"""The run's progress as Durable custom status: per source its phase, status and counts, totals, and an ETA
from measured rates. Pure (the run orchestrator calls it; no clock, no I/O).

The ETA simulates the rest of the run: the mean wall time of the sources finished so far is the
measured rate; sources still running need what is left of that mean, pending ones the whole of it,
spread over the window of parallel sources. Custom status must stay under 16 KB, so with many sources
the per-source map is aggregated: counts by status, and only the running, failed and partial sources
by name.

The Durable extension measures custom status as UTF-16 (``Encoding.Unicode``: 2 bytes a character, 4 for
one outside the BMP) and fails the orchestration over 16 KB. The budget is counted the same way, on
``json.dumps``'s default output (ASCII-escaped, with spaces), which is never shorter than the JSON the
extension measures, and kept well under the limit.
"""

from __future__ import annotations

import heapq
import json
from datetime import datetime, timedelta
from typing import Any

from shared.models import SourceResult

EXTENSION_LIMIT = 16 * 1024  # UTF-16 bytes: the Durable extension refuses a larger custom status
DETAIL_BUDGET = 10_000  # UTF-16 bytes of JSON for the full per-source map
HARD_LIMIT = 14_000  # UTF-16 bytes for the whole status: headroom under EXTENSION_LIMIT
NAMED_CAP = 40  # failed/partial sources named in the aggregated form


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def _seconds(r: SourceResult) -> float | None:
    if r.started_at and r.finished_at:
        return round((r.finished_at - r.started_at).total_seconds(), 1)
    return None


def _phase(r: SourceResult) -> str:
    if r.status == "pending":
        return "pending"
    if r.status == "running":
        return r.phase or "running"
    return "done"


def eta_seconds(results: dict[str, SourceResult], now: datetime, window: int) -> float | None:
    """Seconds until every source is done, from the mean duration of finished ones; None before any."""
    durations = [s for r in results.values() if r.status not in ("pending", "running") and (s := _seconds(r))]
    remaining = [r for r in results.values() if r.status in ("pending", "running")]
    if not remaining:
        return 0.0
    if not durations:
        return None
    mean = sum(durations) / len(durations)
    slots: list[float] = []
    for r in remaining:
        if r.status == "running":
            spent = (now - r.started_at).total_seconds() if r.started_at else 0.0
            slots.append(max(mean - spent, 0.0))
    slots = sorted(slots)[: max(window, 1)]
    slots += [0.0] * (max(window, 1) - len(slots))
    heapq.heapify(slots)
    for _ in range(sum(r.status == "pending" for r in remaining)):
        heapq.heappush(slots, heapq.heappop(slots) + mean)
    return round(max(slots), 1)


def _entry(r: SourceResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": r.status, "phase": _phase(r)}
    counts = _nonzero(r.counts.model_dump())
    if counts:
        entry["counts"] = counts
    if (seconds := _seconds(r)) is not None:
        entry["seconds"] = seconds
    return entry


def utf16_size(text: str) -> int:
    """Bytes of ``text`` in UTF-16, as the Durable extension counts custom status."""
    return len(text.encode("utf-16-le"))


def status_size(value: Any) -> int:
    """UTF-16 bytes of ``value`` as JSON (an upper bound of what the extension measures)."""
    return utf16_size(json.dumps(value, default=str))


def build_status(run_id: str, started: datetime, now: datetime, results: dict[str, SourceResult], *,
                 window: int, phase: str = "sources", status: str | None = None) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    totals: dict[str, int] = {}
    for r in results.values():
        by_status[r.status] = by_status.get(r.status, 0) + 1
        for k, v in r.counts.model_dump().items():
            totals[k] = totals.get(k, 0) + v
    done = sum(r.status not in ("pending", "running") for r in results.values())
    eta = eta_seconds(results, now, window)
    body: dict[str, Any] = {
        "run_id": run_id, "phase": phase, "done": done, "total": len(results),
        "running": by_status.get("running", 0), "by_status": by_status, "totals": _nonzero(totals),
        "elapsed_s": round((now - started).total_seconds(), 1), "eta_s": eta,
        "eta_at": (now + timedelta(seconds=eta)).isoformat() if eta is not None else None,
        "updated_at": now.isoformat(),
    }
    if status is not None:
        body["status"] = status
    detailed = {sid: _entry(r) for sid, r in results.items()}
    if status_size(detailed) <= DETAIL_BUDGET:
        body["sources"] = detailed
        return body
    named = [sid for sid, r in results.items() if r.status == "running"]
    named += [sid for sid, r in results.items() if r.status in ("failed", "partial")][:NAMED_CAP]
    body["sources"] = {sid: detailed[sid] for sid in named}
    body["aggregated"] = True
    while status_size(body) > HARD_LIMIT and body["sources"]:  # extreme ids: drop detail until it fits
        body["sources"].pop(next(reversed(body["sources"])))
    return body

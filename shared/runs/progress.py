"""A run's progress: the run orchestrator's custom status (per source its phase, status and counts, totals,
an ETA) and the ETA model the live view (``shared.runs.view``) shares. Pure: no clock, no I/O.

The ETA simulates the rest of the run: a running source needs what its own rate (documents dealt with per
second, against what discovery found) says is left; pending sources need the mean wall time of the sources
finished so far, spread over the window of parallel sources. Custom status must stay under 16 KB, so with many sources
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
from collections.abc import Mapping
from dataclasses import dataclass
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


# Documents a source has dealt with, out of those discovery found (the rest are still to do).
PROCESSED = ("added", "updated", "unchanged", "failed", "skipped_short", "skipped_language", "skipped_duplicate",
             "skipped_robots", "deferred")


@dataclass(frozen=True)
class Clock:
    """One source as the ETA sees it: its status, when it started and ended, and its counts so far."""

    status: str
    started: datetime | None = None
    finished: datetime | None = None
    counts: Mapping[str, int] | None = None

    @classmethod
    def of(cls, r: SourceResult) -> Clock:
        return cls(r.status, r.started_at, r.finished_at, r.counts.model_dump())

    def remaining(self, now: datetime) -> float | None:
        """Seconds this running source still needs at the rate it has dealt with what discovery found so far
        (a source whose later pages are not discovered yet is underestimated); None before it has a rate."""
        counts = self.counts or {}
        found, done = int(counts.get("discovered", 0)), sum(int(counts.get(k, 0)) for k in PROCESSED)
        if self.started is None or done <= 0:
            return None
        spent = max((now - self.started).total_seconds(), 0.0)
        return spent * max(found - done, 0) / done


def eta_clocks(clocks: list[Clock], now: datetime, window: int) -> float | None:
    """Seconds until every source is done: running sources need what their own rate says is left (or, before
    they have one, what is left of the mean duration of finished sources); pending ones the mean duration of
    finished sources (or, before any finished, the mean projected duration of running ones), spread over the
    ``window`` of parallel sources. None while nothing is measured."""
    durations = [(c.finished - c.started).total_seconds() for c in clocks
                 if c.status not in ("pending", "running") and c.started and c.finished]
    running = [c for c in clocks if c.status == "running"]
    pending = sum(c.status == "pending" for c in clocks)
    if not running and not pending:
        return 0.0
    mean = sum(durations) / len(durations) if durations else None
    slots: list[float] = []
    projected: list[float] = []
    for c in running:
        spent = max((now - c.started).total_seconds(), 0.0) if c.started else 0.0
        left = c.remaining(now)
        if left is None and mean is not None:
            left = max(mean - spent, 0.0)
        if left is None:
            return None
        slots.append(left)
        projected.append(spent + left)
    each = mean if mean is not None else (sum(projected) / len(projected) if projected else None)
    if pending and each is None:
        return None
    width = max(window, 1)
    slots = sorted(slots)[:width]
    slots += [0.0] * (width - len(slots))
    heapq.heapify(slots)
    for _ in range(pending):
        heapq.heappush(slots, heapq.heappop(slots) + (each or 0.0))
    return round(max(slots), 1)


def eta_seconds(results: dict[str, SourceResult], now: datetime, window: int) -> float | None:
    """``eta_clocks`` of the sources' results (what the run orchestrator knows)."""
    return eta_clocks([Clock.of(r) for r in results.values()], now, window)


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
                 window: int, phase: str = "sources", status: str | None = None,
                 lanes: list[str] | None = None) -> dict[str, Any]:
    """The run orchestrator's custom status: what it knows when it sets it. ``lanes``: the source lanes' ids
    when the sources run in lanes (the orchestrator does not see which source each is on; the live view
    reads that from the run record, written as each source starts and ends)."""
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
        "started_at": started.isoformat(), "updated_at": now.isoformat(), "window": window,
    }
    if status is not None:
        body["status"] = status
    if lanes:
        body["lanes"] = lanes
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

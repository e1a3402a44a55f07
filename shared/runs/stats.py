"""``GET /api/stats``: runs by status, success rate, documents and chunks per day, mean and p95 duration,
failures by source — computed from run index entries (no run record is read)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from shared.runs.status import RUN_FINAL, RUN_STATUSES


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def compute_stats(entries: list[dict[str, Any]], *, days: int, since: datetime, now: datetime) -> dict[str, Any]:
    by_status = Counter(e["status"] for e in entries)
    finished = [e for e in entries if e["status"] in RUN_FINAL]
    durations = [e["duration_s"] for e in finished if e.get("duration_s") is not None]
    per_day: dict[str, dict[str, int]] = defaultdict(lambda: {"runs": 0, "documents": 0, "chunks": 0, "failed": 0})
    failures: dict[str, dict[str, Any]] = {}
    for e in entries:
        day = (e.get("requested_at") or e.get("started_at") or "")[:10]
        t = e.get("totals") or {}
        bucket = per_day[day]
        bucket["runs"] += 1
        bucket["documents"] += int(t.get("added", 0)) + int(t.get("updated", 0)) + int(t.get("deleted", 0))
        bucket["chunks"] += int(t.get("chunks_embedded", 0))
        bucket["failed"] += int(t.get("failed", 0))
        for sid, status in (e.get("sources") or {}).items():
            if status in ("failed", "partial"):
                item = failures.setdefault(sid, {"source_id": sid, "failed": 0, "partial": 0, "last_run_id": None})
                item[status] += 1
                item["last_run_id"] = item["last_run_id"] or e["run_id"]
    return {
        "days": days,
        "since": since.isoformat(),
        "until": now.isoformat(),
        "runs": len(entries),
        "by_status": {s: by_status.get(s, 0) for s in RUN_STATUSES},
        "success_rate": round(by_status.get("completed", 0) / len(finished), 4) if finished else None,
        "duration_s": {
            "mean": round(sum(durations) / len(durations), 3) if durations else None,
            "p95": p95(durations),
            "max": max(durations) if durations else None,
        },
        "per_day": [{"day": day, **values} for day, values in sorted(per_day.items()) if day],
        "failures_by_source": sorted(failures.values(), key=lambda f: (-(f["failed"] + f["partial"]), f["source_id"])),
    }

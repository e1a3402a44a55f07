"""Custom status: per-source phase and counts, an ETA from measured rates, and under 16 KB with hundreds of
sources (aggregated)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.models import SourceCounts, SourceResult
from shared.progress import HARD_LIMIT, build_status, eta_seconds

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def results(n: int, done: int, running: int, name: str = "source-{:04d}") -> dict[str, SourceResult]:
    out = {}
    for i in range(n):
        sid = name.format(i)
        if i < done:
            out[sid] = SourceResult(source_id=sid, status="failed" if i % 10 == 3 else "completed", phase="done",
                                    counts=SourceCounts(discovered=100, added=90, failed=i % 7, chunks_embedded=300),
                                    started_at=T0, finished_at=T0 + timedelta(seconds=60))
        elif i < done + running:
            out[sid] = SourceResult(source_id=sid, status="running", started_at=T0 + timedelta(seconds=60))
        else:
            out[sid] = SourceResult(source_id=sid)
    return out


def test_eta_simulates_the_window() -> None:
    # 4 done at 60 s each; 2 running for 30 s of their 60; 6 pending; window 2 → 30 s, then 3 rounds of 60 s
    res = results(12, 4, 2)
    assert eta_seconds(res, T0 + timedelta(seconds=90), window=2) == 210.0
    assert eta_seconds(results(3, 0, 1), T0, window=2) is None  # nothing measured yet
    assert eta_seconds(results(3, 3, 0), T0, window=2) == 0.0


def test_few_sources_are_listed_with_phase_and_counts() -> None:
    status = build_status("run-1", T0, T0 + timedelta(seconds=90), results(6, 3, 2), window=2)
    assert status["done"] == 3 and status["total"] == 6 and status["running"] == 2
    assert status["sources"]["source-0000"] == {"status": "completed", "phase": "done", "seconds": 60.0,
                                                "counts": {"discovered": 100, "added": 90, "chunks_embedded": 300}}
    assert status["sources"]["source-0004"]["phase"] == "running"
    assert status["sources"]["source-0005"] == {"status": "pending", "phase": "pending"}
    assert status["eta_s"] == 90.0 and status["eta_at"] == (T0 + timedelta(seconds=180)).isoformat()
    assert status["totals"]["added"] == 270 and "aggregated" not in status


def test_three_hundred_sources_stay_under_16_kb() -> None:
    res = results(300, 250, 8, name="a-rather-long-source-identifier-{:04d}")
    status = build_status("run-20261123T020000Z-abcdef", T0, T0 + timedelta(seconds=120), res, window=8)
    size = len(json.dumps(status).encode())
    assert size < HARD_LIMIT < 16 * 1024
    assert status["aggregated"] is True and status["total"] == 300 and status["done"] == 250
    assert status["by_status"] == {"completed": 225, "failed": 25, "running": 8, "pending": 42}
    named = status["sources"]
    assert sum(1 for s in named.values() if s["status"] == "running") == 8
    assert sum(1 for s in named.values() if s["status"] == "failed") == 25


def test_even_absurd_ids_are_cut_to_fit() -> None:
    res = results(300, 200, 64, name="x" * 60 + "{:03d}")
    for sid in list(res)[:200]:
        res[sid].status = "failed"
    status = build_status("run-1", T0, T0 + timedelta(seconds=5), res, window=64)
    assert len(json.dumps(status, separators=(",", ":")).encode()) <= HARD_LIMIT

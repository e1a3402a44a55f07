"""Custom status: per-source phase and counts, an ETA from measured rates, and under 16 KB with hundreds of
sources (aggregated)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.models import SourceCounts, SourceResult
from shared.runs.progress import EXTENSION_LIMIT, HARD_LIMIT, build_status, eta_seconds, status_size, utf16_size

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
    assert status_size(status) <= HARD_LIMIT < EXTENSION_LIMIT
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
    assert status_size(status) <= HARD_LIMIT


def test_utf16_size_counts_as_the_extension_does() -> None:
    assert utf16_size("abc") == 6 and utf16_size("é") == 2 and utf16_size("\U0001d530") == 4
    assert status_size({"id": "é"}) == utf16_size('{"id": "\\u00e9"}')  # ASCII-escaped: never an undercount


def fails(sid: str, i: int, t: datetime) -> SourceResult:
    reason = f"fetch failed for https://example.org/{'ü' * 200}/{i}: " + "connection reset by peer; " * 40
    return SourceResult(source_id=sid, status="failed" if i % 3 else "partial", phase="done", message=reason[:500],
                        counts=SourceCounts(discovered=10_000 + i, added=9_000, failed=999, chunks_embedded=123_456),
                        started_at=t - timedelta(seconds=30 + i), finished_at=t)


def test_a_run_over_200_sources_stays_under_the_limit_at_every_step() -> None:
    """Drive the builder as the run orchestrator does (window of 16; every other source fails with a long
    non-ASCII reason; ids at the manifest's maximum length, some with astral characters) and measure every
    custom status as UTF-16, as the extension does."""
    ids = [f"{i:03d}-" + "s" * 59 for i in range(190)] + [f"{i:03d}-" + "\U0001d530" * 59 for i in range(190, 200)]
    assert max(len(sid) for sid in ids) == 63  # shared.names.SOURCE_ID: at most 63 characters
    run_id = "run-20261123T020000Z-abcdef-" + "r" * 99
    res = {sid: SourceResult(source_id=sid) for sid in ids}
    sizes: list[int] = []
    now, queue, running, window = T0, list(ids), [], 16

    def publish(phase: str = "sources", status: str | None = None) -> None:
        body = build_status(run_id, T0, now, res, window=window, phase=phase, status=status)
        sizes.append(max(status_size(body), utf16_size(json.dumps(body, ensure_ascii=False, separators=(",", ":")))))

    while queue or running:
        while queue and len(running) < window:
            sid = queue.pop(0)
            running.append(sid)
            res[sid] = SourceResult(source_id=sid, status="running", phase="embed", started_at=now,
                                    counts=SourceCounts(discovered=50_000, added=40_000, chunks_embedded=999_999))
        publish()
        now += timedelta(seconds=7)
        sid = running.pop(0)
        i = ids.index(sid)
        res[sid] = fails(sid, i, now) if i % 2 else SourceResult(
            source_id=sid, status="completed", phase="done", counts=SourceCounts(discovered=10, added=10),
            started_at=now - timedelta(seconds=20), finished_at=now)
    for phase, status in (("closing", None), ("finishing", "partial"), ("done", "partial")):
        publish(phase, status)
    assert len(sizes) == 203
    assert max(sizes) <= HARD_LIMIT < EXTENSION_LIMIT

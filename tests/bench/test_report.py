"""The e5 headline pools the two ingests that bracket the embedder-alone run; the harness times a run by
the host's own completion timestamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.harness import _finished_after, _retry_after
from bench.report import headline


def _run(chunks: int, wall: float) -> dict[str, object]:
    return {"wall_s": wall, "chunks_per_s": round(chunks / wall, 2), "counts": {"chunks_embedded": chunks}}


def test_the_e5_ratio_pools_both_ingests_around_the_embedder_alone() -> None:
    doc = {"suites": {"e5_folder": {"initial": _run(2000, 400.0), "initial_repeat": _run(2000, 440.0),
                                    "embedder_only": {"chunks_per_s": 5.0}}}}
    out = headline(doc)
    assert out["ingest_chunks_per_s"] == round(4000 / 840.0, 2)  # not the mean of the two rates
    assert out["ingest_vs_embedder_e5"] == round(round(4000 / 840.0, 2) / 5.0, 4)


def test_results_with_one_ingest_keep_its_rate() -> None:
    doc = {"suites": {"e5_folder": {"initial": _run(2000, 400.0), "embedder_only": {"chunks_per_s": 5.0}}}}
    assert headline(doc)["ingest_chunks_per_s"] == 5.0


def test_the_wall_time_ends_at_the_runs_own_completion_not_at_the_poll() -> None:
    started = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    done = (started + timedelta(seconds=12.25)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert _finished_after({"lastUpdatedTime": done}, started, 13.0) == 12.25
    # no usable stamp, or one outside (0, polled + 0.5]: the poll's own time
    assert _finished_after({"lastUpdatedTime": "soon"}, started, 13.0) == 13.0
    assert _finished_after({}, started, 13.0) == 13.0
    assert _finished_after({"lastUpdatedTime": done}, started, 5.0) == 5.0


def test_retry_after_seconds_and_otherwise_none() -> None:
    assert _retry_after("1") == 1.0
    assert _retry_after(None) is None
    assert _retry_after("Fri, 27 Nov 2026 12:00:00 GMT") is None

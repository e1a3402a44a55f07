"""The index suite's keys and targets: drift over every scenario and target, an unchanged re-run's sends."""

from __future__ import annotations

from bench.index import headline
from bench.report import targets


def suite(drift: int = 0, rerun_requests: int = 0) -> dict[str, object]:
    runs = {"first_run": {"upserted": 100, "drift": 0, "chunks_per_s": 200.0},
            "unchanged_rerun": {"upserted": 0, "deleted": 0, "index_requests": rerun_requests, "drift": 0,
                                "seconds": 0.2},
            "model_change": {"drift": drift}}
    return {"embedder_chunks_per_s": {"hashing": 5000.0, "e5-small": 4.0}, "lancedb": runs,
            "azure-search": {**runs, "first_run": {"upserted": 100, "drift": 0, "chunks_per_s": 150.0}}}


def test_the_headline_takes_the_worst_drift_and_every_send_of_the_rerun() -> None:
    keys = headline(suite())
    assert keys["index_max_drift"] == 0 and keys["index_unchanged_rerun_sent"] == 0
    assert keys["index_publish_chunks_per_s_lancedb"] == 200.0
    assert keys["index_publish_vs_embedder_e5_lancedb"] == 50.0
    bad = headline(suite(drift=3, rerun_requests=2))
    assert bad["index_max_drift"] == 3 and bad["index_unchanged_rerun_sent"] == 4  # both targets' requests
    met = targets(bad)
    assert met["index_max_drift"]["met"] is False and met["index_unchanged_rerun_sent"]["met"] is False
    assert targets(keys)["index_max_drift"]["met"] is True


def test_no_suite_no_keys() -> None:
    assert headline(None) == {}

"""The ``aoai_quota_utilisation`` suite, scaled down: it runs alone and merges its keys into the results."""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import _only_aoai


def test_the_quota_suite_runs_alone_and_keeps_the_other_results(tmp_path: Path) -> None:
    earlier = {"schema": 1, "commit": {"commit": "abc"}, "ingest_vs_embedder_ratio": 0.75,
               "suites": {"e5_folder": {"initial": {"chunks_per_s": 5.71}}}, "custom_key": [1, 2]}
    (tmp_path / "latest.json").write_text(json.dumps(earlier))
    sizes = {"aoai": {"tpm": 12_000, "rpm": 300, "window": 1.5, "duration": 3.0}}
    assert _only_aoai(sizes, tmp_path) == 0
    doc = json.loads((tmp_path / "latest.json").read_text())
    for key, value in earlier.items():
        if key != "suites":
            assert doc[key] == value  # nothing of the other suites' run is erased or recomputed
    assert doc["suites"]["e5_folder"] == earlier["suites"]["e5_folder"]
    run = doc["suites"]["aoai_quota"]
    assert run["quota"] == {"tpm": 12_000, "rpm": 300, "window_s": 1.5, "clock_scaled": True,
                            "note": "the fake's sliding window; 60 s is the service's per-minute quota"}
    assert run["failed_documents"] == 0 and run["chunks_embedded"] == run["vectors_checked"] > 0
    assert 0 < run["tokens_accepted"] <= run["quota_capacity_tokens"] == 24_000  # the fake never admits more
    assert doc["aoai_quota_utilisation"] == run["utilisation"] and doc["aoai_quota_failed_documents"] == 0
    assert doc["targets"]["aoai_quota_utilisation"]["limit"] == 0.85
    assert run["run_alone"] and run["commit"]["commit"] and run["machine"]["nproc"]

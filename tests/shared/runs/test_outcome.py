"""Status rules for sources and runs."""

from __future__ import annotations

from shared.models import SourceCounts, SourceResult
from shared.runs.outcome import run_status, source_status, totals


def r(status: str, **counts: int) -> SourceResult:
    return SourceResult(source_id="s", status=status, counts=SourceCounts(**counts))  # type: ignore[arg-type]


def test_source_status() -> None:
    assert source_status(SourceCounts(added=3), failure_threshold=0.5) == "completed"
    assert source_status(SourceCounts(added=3, failed=1), failure_threshold=0.5) == "partial"
    assert source_status(SourceCounts(added=1, failed=3), failure_threshold=0.5) == "failed"


def test_run_status() -> None:
    assert run_status([r("completed"), r("completed")], failure_threshold=0.5) == "completed"
    assert run_status([r("completed"), r("partial")], failure_threshold=0.5) == "partial"
    assert run_status([r("completed"), r("failed")], failure_threshold=0.5) == "partial"
    assert run_status([r("completed"), r("failed"), r("failed")], failure_threshold=0.5) == "failed"
    assert run_status([r("failed")], failure_threshold=1.0) == "failed"
    assert run_status([], failure_threshold=0.5) == "completed"


def test_totals_add_up() -> None:
    assert totals([r("completed", added=2, failed=1), r("completed", added=3)]).model_dump()["added"] == 5

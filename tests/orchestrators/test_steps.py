"""The source orchestrator's decisions and the call helper's wait, as pure functions."""

from __future__ import annotations

import pytest

from orchestrators.calls import MAX_WAIT_S, MIN_WAIT_S, wait_seconds
from orchestrators.source_steps import (
    MAX_ERRORS,
    final_high_water,
    later,
    merge,
)
from shared.models import DiscoverResult, ErrorRecord, SourceCounts, SourceResult, StageResult
from shared.runs.outcome import after_fetch


def fetched(items: int, **counts: int) -> StageResult:
    return StageResult(items=items, counts=SourceCounts(**counts))


@pytest.mark.parametrize(("outcome", "dry", "expected"), [
    (fetched(0, failed=2), False, "stop"),
    (fetched(2, unchanged=2), False, "commit_only"),
    (fetched(2, unchanged=1, updated=1), False, "continue"),
    (fetched(1, added=1), False, "continue"),
    (fetched(2, unchanged=2), True, "stop"),  # a dry run records nothing, not even change hints
    (fetched(1, added=1), True, "stop"),
])
def test_after_fetch(outcome: StageResult, dry: bool, expected: str) -> None:
    assert after_fetch(outcome, dry_run=dry) == expected


@pytest.mark.parametrize(("high_water", "hint", "expected"), [
    ("2026-06-09", None, "2026-06-09"),
    ("2026-06-09", "2026-06-03", "2026-06-03"),  # held back to the earliest transient failure
    ("2026-06-02", "2026-06-03", "2026-06-02"),  # never moved forward by a failure
    (None, "2026-06-03", "2026-06-03"),
    (None, None, None),
])
def test_final_high_water(high_water: str | None, hint: str | None, expected: str | None) -> None:
    assert final_high_water(high_water, hint) == expected


def test_later_ignores_missing_marks() -> None:
    assert later(None, "b") == "b" and later("b", None) == "b" and later("a", "b") == "b" and later(None, None) is None


def test_merge_adds_counts_timings_pages_and_caps_errors() -> None:
    result = SourceResult(source_id="s")
    errors = [ErrorRecord(stage="fetch", reason=f"e{i}") for i in range(MAX_ERRORS + 5)]
    merge(result, "discover", DiscoverResult(page=0, discovered=4, unchanged=1, seconds=0.5))
    merge(result, "fetch", StageResult(counts=SourceCounts(added=2, failed=1), seconds=1.25, errors=errors))
    merge(result, "fetch", StageResult(counts=SourceCounts(added=1), seconds=0.25, errors=errors))
    assert (result.pages, result.counts.discovered, result.counts.unchanged, result.counts.added) == (1, 4, 1, 3)
    assert result.timings == {"discover": 0.5, "fetch": 1.5}
    assert len(result.errors) == MAX_ERRORS


def test_wait_seconds_is_bounded() -> None:
    assert wait_seconds(None) == MIN_WAIT_S and wait_seconds(0) == MIN_WAIT_S
    assert wait_seconds(30) == 30 and wait_seconds(10**9) == MAX_WAIT_S

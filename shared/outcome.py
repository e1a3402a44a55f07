"""Pure rules that turn per-source results into statuses (used by orchestrators: no I/O here)."""

from __future__ import annotations

from shared.models import RunStatus, SourceCounts, SourceResult, SourceStatus


def source_status(counts: SourceCounts, *, failure_threshold: float) -> SourceStatus:
    """``completed`` with no failures, ``failed`` when the failed share of attempted documents is past
    the threshold, ``partial`` otherwise."""
    if counts.failed == 0:
        return "completed"
    attempted = counts.added + counts.updated + counts.unchanged + counts.failed
    if attempted and counts.failed / attempted > failure_threshold:
        return "failed"
    return "partial"


def run_status(results: list[SourceResult], *, failure_threshold: float) -> RunStatus:
    """``completed`` when every source completed, ``failed`` when the share of failed sources is past the
    threshold (or all failed), ``partial`` otherwise."""
    if not results:
        return "completed"
    failed = sum(r.status == "failed" for r in results)
    if failed == len(results) or failed / len(results) > failure_threshold:
        return "failed"
    if failed or any(r.status == "partial" for r in results):
        return "partial"
    return "completed"


def totals(results: list[SourceResult]) -> SourceCounts:
    out = SourceCounts()
    for r in results:
        out = out.add(r.counts)
    return out

"""Pure rules that turn per-source results into statuses (used by orchestrators: no I/O here)."""

from __future__ import annotations

from typing import Literal

from shared.models import RunStatus, SourceCounts, SourceResult, SourceStatus, StageResult

AfterFetch = Literal["stop", "commit_only", "continue"]


def after_fetch(fetched: StageResult, *, dry_run: bool) -> AfterFetch:
    """What a batch's fetch result means for the rest of it: ``stop`` when nothing was fetched (nothing to
    chunk, embed or commit) and always in a dry run (it writes nothing, not even change hints);
    ``commit_only`` when every fetched document was unchanged (only their new change hints need recording);
    else ``continue`` (chunk, embed, commit)."""
    if fetched.items == 0 or dry_run:
        return "stop"
    if fetched.counts.added + fetched.counts.updated == 0:
        return "commit_only"
    return "continue"


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

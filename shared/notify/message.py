"""What a notification says about a run: one ``Notice`` built from the run summary, rendered by each
channel (webhook JSON, Slack blocks, email text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.models import RunSummary
from shared.runs.index import duration_s

TOP_ERRORS = 5


@dataclass
class Notice:
    run_id: str
    status: str
    trigger: str
    duration_s: float | None
    totals: dict[str, int]
    sources_by_status: dict[str, int]
    failed_sources: list[str]
    top_errors: list[dict[str, Any]]
    links: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"Harvest run {self.run_id} {self.status}"

    def duration_text(self) -> str:
        if self.duration_s is None:
            return "unknown"
        minutes, seconds = divmod(round(self.duration_s), 60)
        return f"{minutes} min {seconds} s" if minutes else f"{self.duration_s:.1f} s"

    def counts_text(self) -> str:
        t = self.totals
        return (f"{t.get('added', 0)} added, {t.get('updated', 0)} updated, {t.get('deleted', 0)} deleted, "
                f"{t.get('failed', 0)} failed; {t.get('chunks_embedded', 0)} chunks embedded; "
                f"{t.get('index_upserted', 0)} vectors upserted and {t.get('index_deleted', 0)} deleted in the "
                "search index")

    def sources_text(self) -> str:
        return ", ".join(f"{n} {status}" for status, n in sorted(self.sources_by_status.items())) or "none"


def build_notice(summary: RunSummary, *, public_url: str | None = None) -> Notice:
    by_status: dict[str, int] = {}
    for r in summary.sources.values():
        by_status[r.status] = by_status.get(r.status, 0) + 1
    errors = [e.model_dump(mode="json", exclude_none=True) for e in summary.errors[:TOP_ERRORS]]
    if not errors and summary.message:
        errors = [{"reason": summary.message}]
    links: dict[str, str] = {}
    if public_url:
        base = public_url.rstrip("/")
        links = {"run": f"{base}/api/runs/{summary.run_id}", "report": f"{base}/api/runs/{summary.run_id}/report"}
    elif summary.status_url:
        links = {"status": summary.status_url}
    slim = summary.model_dump(mode="json", exclude={"sources", "notifications"})
    return Notice(run_id=summary.run_id, status=summary.status, trigger=summary.trigger,
                  duration_s=duration_s(summary), totals=summary.totals.model_dump(), sources_by_status=by_status,
                  failed_sources=[sid for sid, r in summary.sources.items() if r.status == "failed"][:20],
                  top_errors=errors, links=links, summary=slim)

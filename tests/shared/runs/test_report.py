"""The HTML report: self-contained, numbers tagged, errors grouped by reason, hostile text escaped (pure); and
published next to the run record with the chart drawn from the run's orchestration history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from shared import names
from shared.models import ErrorRecord, RunSummary, SourceCounts, SourceResult
from shared.runs.report import group_errors, history_instances, publish_report, render_report
from shared.storage import layout
from shared.storage.blobs import BlobStore

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def summary() -> dict:
    evil = "<script>alert(1)</script>"
    errors = [ErrorRecord(stage="fetch", reason="HTTP 404", doc_id=f"d{i}") for i in range(4)]
    errors.append(ErrorRecord(stage="fetch", reason=evil, doc_id="x"))
    run = RunSummary(run_id="run-1", status="partial", trigger="http", started_at=T0,
                     finished_at=T0 + timedelta(seconds=42),
                     sources={"docs": SourceResult(source_id="docs", status="partial", errors=errors,
                                                   counts=SourceCounts(discovered=20, added=15, failed=5),
                                                   timings={"fetch": 2.0, "embed": 1.5}),
                              "news": SourceResult(source_id="news", status="failed", message="feed gone")},
                     totals=SourceCounts(discovered=20, added=15, failed=5))
    return run.model_dump(mode="json")


def test_report_is_self_contained_and_escaped() -> None:
    html = render_report(summary(), [{"s": 0.0, "documents": 0}, {"s": 10.0, "documents": 20}])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert not re.search(r"""(src|href)=["']https?:""", html)
    assert 'data-total="added">15<' in html and 'data-final-documents="20"' in html
    assert re.search(r'<tr data-source="docs">.*?data-count="failed">5<', html)
    assert len(html.encode()) < 20_000


def test_errors_are_grouped_by_reason() -> None:
    groups = group_errors(summary())
    assert groups[0] == {"stage": "fetch", "reason": "HTTP 404", "count": 4, "sources": ["docs"],
                         "examples": ["d0", "d1", "d2"]}
    assert {"stage": "source", "reason": "feed gone", "count": 1, "sources": ["news"], "examples": []} in groups


def test_errors_group_by_a_reason_without_the_url_and_times_are_readable() -> None:
    """Issue 12: reasons carried the URL (or the document's path), so every error was its own group; the
    report printed raw ISO times."""
    errors = [ErrorRecord(stage="fetch", reason=f"HTTP 404 for https://x.test/page-{i}?a=1", doc_id=f"p{i}")
              for i in range(3)]
    errors += [ErrorRecord(stage="fetch", reason=f"notes/n{i}.md: file no longer exists", doc_id=f"notes/n{i}.md")
               for i in range(2)]
    data = RunSummary(run_id="run-2", status="partial", trigger="http", started_at=T0,
                      finished_at=T0 + timedelta(seconds=5),
                      sources={"docs": SourceResult(source_id="docs", status="partial", errors=errors)}
                      ).model_dump(mode="json")
    groups = group_errors(data)
    assert [(g["reason"], g["count"]) for g in groups] == [("HTTP 404 for <url>", 3),
                                                          ("<document>: file no longer exists", 2)]
    html = render_report(data)
    assert "2026-11-23 02:00:00 UTC" in html and "2026-11-23T02:00:00" not in html


def test_the_chart_reads_the_history_of_each_source_orchestration_and_its_batch_lanes() -> None:
    run = RunSummary(run_id="run-3", status="completed", trigger="http", started_at=T0,
                     sources={"docs": SourceResult(source_id="docs", pages=2, lanes=2),
                              "news": SourceResult(source_id="news", pages=3, lanes=0)})
    assert history_instances(run) == [
        names.source_instance_id("run-3", "docs"), names.batch_lane_id("run-3", "docs", 0, 0),
        names.batch_lane_id("run-3", "docs", 0, 1), names.batch_lane_id("run-3", "docs", 1, 0),
        names.batch_lane_id("run-3", "docs", 1, 1), names.source_instance_id("run-3", "news")]
    assert history_instances(run, sources=1)[-1] == names.batch_lane_id("run-3", "docs", 1, 1)


async def test_the_published_report_is_written_next_to_the_record_with_the_chart_from_history(
        store: BlobStore) -> None:
    run = RunSummary(run_id="run-4", status="completed", trigger="http", started_at=T0,
                     sources={"docs": SourceResult(source_id="docs", pages=1, lanes=1, counts=SourceCounts(added=6),
                                                   finished_at=T0 + timedelta(seconds=60))})
    prepared = {"EventType": "TaskCompleted", "FunctionName": "prepare", "Timestamp": "2026-11-23T02:00:09Z",
                "Result": {"outcome": "ok", "value": {"fetch": {"counts": {"added": 4}}}}}
    read: list[str] = []

    async def read_history(instance_id: str) -> list[dict[str, object]]:
        read.append(instance_id)
        if instance_id == names.batch_lane_id("run-4", "docs", 0, 0):
            raise RuntimeError("history purged")  # left out of the chart, the report is still published
        return [prepared]

    name, size = await publish_report(store, run, read_history)
    assert name == layout.report_blob("run-4") and sorted(read) == sorted(history_instances(run))
    html = (await store.read_bytes(name) or b"").decode()
    assert len(html) == size and 'data-final-documents="4"' in html  # from the history, not the record's 6
    props = await store.container.get_blob_client(name).get_blob_properties()
    assert props.content_settings.content_type == "text/html; charset=utf-8"

"""The run summary's index counts reach what people read: the notification, the HTML report, the CLI line."""

from __future__ import annotations

from datetime import UTC, datetime

from cli.commands.run import corpus_line
from shared.models import RunSummary, SourceCounts, SourceResult
from shared.notify.message import build_notice
from shared.runs.outcome import totals
from shared.runs.report import render_report


def summary() -> RunSummary:
    results = {"a": SourceResult(source_id="a", status="completed",
                                 counts=SourceCounts(added=2, index_upserted=40, index_deleted=3),
                                 timings={"publish": 1.25}),
               "b": SourceResult(source_id="b", status="completed", counts=SourceCounts(index_upserted=2))}
    return RunSummary(run_id="run-1", status="completed", trigger="cli", sources=results,
                      totals=totals(list(results.values())), started_at=datetime(2026, 1, 1, tzinfo=UTC),
                      finished_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC))


def test_totals_carry_index_counts_and_the_notification_says_them() -> None:
    s = summary()
    assert (s.totals.index_upserted, s.totals.index_deleted) == (42, 3)
    text = build_notice(s).counts_text()
    assert "42 vectors upserted and 3 deleted in the search index" in text


def test_the_report_shows_index_counts_and_publish_time() -> None:
    html = render_report(summary().model_dump(mode="json"))
    assert 'data-total="index_upserted">42<' in html and 'data-total="index_deleted">3<' in html
    assert 'data-stage-total="publish">1.25<' in html


def test_the_cli_summary_line_names_the_index() -> None:
    line = corpus_line(summary().totals.model_dump(), dry_run=False)
    assert "Search index: 42 vectors upserted, 3 deleted." in line

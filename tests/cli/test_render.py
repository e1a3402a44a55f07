"""The CLI's rendering of a run: the summary (error reasons print as they are, brackets are not taken for
markup) and the live view as a table and as one plain line."""

from __future__ import annotations

from rich.console import Console

from cli.hub import progress_words
from cli.render import error_lines, print_summary, summary_table, view_line, view_table


def test_error_reasons_with_brackets_print_verbatim() -> None:
    console = Console(width=160, record=True)
    summary = {"run_id": "r", "status": "partial", "sources": {"notes": {
        "status": "partial", "counts": {"added": 1, "failed": 1}, "timings": {"fetch": 0.5},
        "errors": [{"stage": "fetch", "doc_id": "d.md", "reason": "HTTP 404 [not found]"}]}}}
    print_summary(console, summary, style="yellow")
    text = console.export_text()
    assert "run r: partial" in text
    assert "notes: 1 document failed: d.md [fetch]: HTTP 404 [not found]" in text


def test_the_live_view_renders_as_a_table_and_as_one_line() -> None:
    view = {"run_id": "r", "status": "running", "progress": {"done": 1, "total": 2, "eta_s": 12.0},
            "sources": {"docs": {"status": "completed", "phase": "done", "counts": {"added": 3}},
                        "news": {"status": "running", "phase": "embed", "counts": {"added": 1},
                                 "position": {"page": 1, "batch": 2, "batches": 3}}}}
    console = Console(width=160, record=True)
    console.print(view_table(view))
    text = console.export_text()
    assert "run r — running — 1/2 sources, ETA 12 s" in text and "embed 2/3 (page 1)" in text
    assert view_line(view) == "run r: running, 1/2 sources done (news running)"
    # the same words where `harvest run` says where an interrupted or running run stood (cli/hub.py)
    assert progress_words(view, limit=1) == "docs: completed, 3 added; 1 more source(s)"
    assert progress_words(view) == "docs: completed, 3 added; news: embed 2/3 (page 1), 1 added"


def test_seconds_are_the_sources_wall_time_and_stage_times_are_labelled() -> None:
    """Issue 23 item 4: "seconds" showed the sum of stage timings (122.7 s for a source whose run took 93.2 s)."""
    summary = {"run_id": "r", "status": "completed", "sources": {"samples": {
        "status": "completed", "counts": {"added": 36}, "timings": {"discover": 0.1, "prepare": 30.0, "embed": 92.6},
        "started_at": "2026-11-23T11:29:44Z", "finished_at": "2026-11-23T11:31:17.2Z"}}}
    console = Console(width=200, record=True)
    print_summary(console, summary)
    text = console.export_text()
    assert "wall s" in text and "93.2" in text and "122.7" not in text
    assert "stage seconds (summed over parallel batches): samples: discover 0.1, prepare 30.0, embed 92.6" in text


def test_failed_sources_are_told_apart_from_failed_documents() -> None:
    """Issue 23 item 4: "failed" showed 0 for a run whose 5 sources all failed."""
    summary = {"run_id": "r", "status": "failed", "sources": {
        f"s{i}": {"status": "failed", "counts": {}, "message": "x"} for i in range(5)}}
    console = Console(width=200, record=True)
    console.print(summary_table(summary))
    text = console.export_text()
    assert "run r: failed (5 sources: 5 failed)" in text and "docs failed" in text


def test_an_unreachable_host_is_one_line_per_source_in_words() -> None:
    """Issue 23 item 6: the summary said `TransientError: ... ClientConnectorDNSError` for each source."""
    reason = ("Activity function 'discover' failed: TransientError: GET https://news.example.invalid/feed: cannot "
              "reach news.example.invalid: the name does not resolve (DNS) (after 4 attempts)")
    summary = {"run_id": "r", "status": "failed", "sources": {
        "news": {"status": "failed", "message": reason, "errors": [{"stage": "discover", "reason": reason}]},
        "blog": {"status": "partial", "counts": {"failed": 3}, "errors": [
            {"stage": "fetch", "doc_id": "a", "reason": "HTTP 404 for https://b/a"},
            {"stage": "fetch", "doc_id": "b", "reason": "HTTP 404 for https://b/b"}]}}}
    assert error_lines(summary) == [
        "news: discover: GET https://news.example.invalid/feed: cannot reach news.example.invalid: the name does "
        "not resolve (DNS) (after 4 attempts)",
        "blog: 3 documents failed, first: a [fetch]: HTTP 404 for https://b/a"]

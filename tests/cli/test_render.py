"""The CLI's rendering of a run: the summary (error reasons print as they are, brackets are not taken for
markup) and the live view as a table and as one plain line."""

from __future__ import annotations

from rich.console import Console

from cli.render import print_summary, view_line, view_table


def test_error_reasons_with_brackets_print_verbatim() -> None:
    console = Console(width=160, record=True)
    summary = {"run_id": "r", "status": "partial", "sources": {"notes": {
        "status": "partial", "counts": {"added": 1, "failed": 1}, "timings": {"fetch": 0.5},
        "errors": [{"stage": "fetch", "doc_id": "d.md", "reason": "HTTP 404 [not found]"}]}}}
    print_summary(console, summary, style="yellow")
    text = console.export_text()
    assert "run r: partial" in text
    assert "notes d.md [fetch]: HTTP 404 [not found]" in text


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

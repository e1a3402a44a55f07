"""The CLI's run summary: error reasons print as they are (brackets are not taken for markup)."""

from __future__ import annotations

from rich.console import Console

from cli.render import print_summary


def test_error_reasons_with_brackets_print_verbatim() -> None:
    console = Console(width=160, record=True)
    summary = {"run_id": "r", "status": "partial", "sources": {"notes": {
        "status": "partial", "counts": {"added": 1, "failed": 1}, "timings": {"fetch": 0.5},
        "errors": [{"stage": "fetch", "doc_id": "d.md", "reason": "HTTP 404 [not found]"}]}}}
    print_summary(console, summary, style="yellow")
    text = console.export_text()
    assert "run r: partial" in text
    assert "notes d.md [fetch]: HTTP 404 [not found]" in text

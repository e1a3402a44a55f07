"""Terminal rendering of a run: live per-source progress and the final summary table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

COLUMNS = ("discovered", "added", "updated", "unchanged", "deleted", "failed", "chunks_embedded",
           "chunks_reused")
HEADERS = ("found", "added", "updated", "same", "deleted", "failed", "embedded", "reused")


def progress_table(run_status: dict[str, Any], source_status: dict[str, dict[str, Any]]) -> Table:
    custom = run_status.get("customStatus") or {}
    title = f"run {run_status.get('instanceId')} — {run_status.get('runtimeStatus')}"
    if isinstance(custom, dict) and custom.get("total"):
        title += f" — {custom.get('done', 0)}/{custom['total']} sources"
        if custom.get("eta_s") is not None:
            title += f", ETA {custom['eta_s']:.0f} s"
    table = Table(title=title, title_justify="left")
    table.add_column("source")
    table.add_column("phase")
    for header in HEADERS:
        table.add_column(header, justify="right")
    sources = custom.get("sources", {}) if isinstance(custom, dict) else {}
    for sid, info in sources.items():
        detail = source_status.get(sid) or {}
        phase = info.get("status", "")
        counts = info.get("counts") or {}
        if phase == "running" and detail:
            counts = detail.get("counts") or counts
            phase = detail.get("phase", phase)
            if detail.get("batches"):
                phase += f" {detail.get('batch')}/{detail.get('batches')} (page {detail.get('page', 0) + 1})"
        table.add_row(sid, phase, *(str(counts.get(c, "")) for c in COLUMNS))
    return table


def progress_line(run_status: dict[str, Any]) -> str:
    """One plain line of progress, for output that is not a terminal (a pipe, a log file, CI)."""
    custom = run_status.get("customStatus") or {}
    line = f"run {run_status.get('instanceId')}: {str(run_status.get('runtimeStatus', '')).lower()}"
    if not isinstance(custom, dict):
        return line
    if custom.get("total"):
        line += f", {custom.get('done', 0)}/{custom['total']} sources done"
    states = [f"{sid} {info.get('status', '')}" for sid, info in (custom.get("sources") or {}).items()
              if info.get("status") not in (None, "completed")]
    if states:
        line += " (" + ", ".join(states[:5]) + (", ..." if len(states) > 5 else "") + ")"
    return line


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"run {summary['run_id']}: {summary['status']}", title_justify="left")
    table.add_column("source")
    table.add_column("status")
    for header in HEADERS:
        table.add_column(header, justify="right")
    table.add_column("seconds", justify="right")
    for sid, result in summary.get("sources", {}).items():
        counts = result.get("counts", {})
        seconds = sum(result.get("timings", {}).values())
        table.add_row(sid, result["status"], *(str(counts.get(c, 0)) for c in COLUMNS), f"{seconds:.1f}")
    return table


def print_summary(console: Console, summary: dict[str, Any], *, style: str = "") -> None:
    """The summary table and the first errors. Error lines are plain ``Text`` (not markup), so a reason
    such as ``[fetch]: HTTP 404`` prints as it is instead of being read as a style tag."""
    console.print(summary_table(summary))
    for line in error_lines(summary):
        console.print(Text(f"  {line}", style=style))


def error_lines(summary: dict[str, Any], limit: int = 10) -> list[str]:
    lines = []
    for sid, result in summary.get("sources", {}).items():
        if result.get("message"):
            lines.append(f"{sid}: {result['message']}")
        for err in result.get("errors", [])[:limit]:
            where = f" {err['doc_id']}" if err.get("doc_id") else ""
            lines.append(f"{sid}{where} [{err['stage']}]: {err['reason']}")
    return lines[:limit]

"""Terminal rendering of a run: its live view (a table, or one plain line) and the final summary table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from shared.runs.status import RUN_FINAL

COLUMNS = ("discovered", "added", "updated", "unchanged", "deleted", "failed", "chunks_embedded",
           "chunks_reused")
HEADERS = ("found", "added", "updated", "same", "deleted", "failed", "embedded", "reused")


def view_table(view: dict[str, Any]) -> Table:
    """The live view of a run (``shared.runs.operations.live_view``): per source its phase, position and
    counts, and in the title the run's status, sources done and ETA."""
    progress = view.get("progress") or {}
    title = f"run {view['run_id']} — {view['status']}"
    if progress.get("total"):
        title += f" — {progress.get('done', 0)}/{progress['total']} sources"
    if progress.get("eta_s") is not None and view["status"] not in RUN_FINAL:
        title += f", ETA {progress['eta_s']:.0f} s"
    table = Table(title=title, title_justify="left")
    table.add_column("source")
    table.add_column("phase")
    for header in HEADERS:
        table.add_column(header, justify="right")
    for sid, info in (view.get("sources") or {}).items():
        phase = info.get("phase") or info.get("status", "")
        if phase == "done":
            phase = info.get("status", "done")
        if pos := info.get("position"):
            phase += f" {pos.get('batch')}/{pos.get('batches')} (page {pos.get('page')})"
        counts = info.get("counts") or {}
        table.add_row(sid, phase, *(str(counts.get(c, 0)) for c in COLUMNS))
    return table


def view_line(view: dict[str, Any]) -> str:
    """One plain line of the live view, for output that is not a terminal (a pipe, a log file, CI)."""
    progress = view.get("progress") or {}
    line = f"run {view['run_id']}: {view['status']}"
    if progress.get("total"):
        line += f", {progress.get('done', 0)}/{progress['total']} sources done"
    states = [f"{sid} {info.get('status', '')}" for sid, info in (view.get("sources") or {}).items()
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

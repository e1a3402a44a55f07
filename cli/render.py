"""Terminal rendering of a run: its live view (a table, or one plain line) and the final summary table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from shared.errors import failure_reason
from shared.runs.status import RUN_FINAL

COLUMNS = ("discovered", "added", "updated", "unchanged", "deleted", "failed", "chunks_embedded",
           "chunks_reused")
HEADERS = ("found", "added", "updated", "same", "deleted", "docs failed", "embedded", "reused")


def source_phase(info: dict[str, Any]) -> str:
    """A source's place in the run, from its entry in the live view: ``embed 2/4 (page 1)``, ``completed``."""
    phase = str(info.get("phase") or info.get("status", ""))
    if phase == "done":
        phase = str(info.get("status", "done"))
    if pos := info.get("position"):
        phase += f" {pos.get('batch')}/{pos.get('batches')} (page {pos.get('page')})"
    return phase


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
        counts = info.get("counts") or {}
        table.add_row(sid, source_phase(info), *(str(counts.get(c, 0)) for c in COLUMNS))
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


def wall_seconds(result: dict[str, Any]) -> float | None:
    """The source's own wall time (its start to its finish in the run), None when not both are known."""
    try:
        started = datetime.fromisoformat(str(result["started_at"]).replace("Z", "+00:00"))
        finished = datetime.fromisoformat(str(result["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (finished - started).total_seconds())


def source_tally(summary: dict[str, Any]) -> str:
    """``3 sources: 1 completed, 2 failed`` — failed sources, not failed documents."""
    statuses = [r.get("status", "pending") for r in (summary.get("sources") or {}).values()]
    if not statuses:
        return "no sources"
    counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
    noun = "source" if len(statuses) == 1 else "sources"
    return f"{len(statuses)} {noun}: " + ", ".join(f"{n} {s}" for s, n in counts.items())


def summary_table(summary: dict[str, Any]) -> Table:
    """Per source: status, document counts (``docs failed``: documents, not sources) and the source's wall
    time; the title counts the sources by status."""
    table = Table(title=f"run {summary['run_id']}: {summary['status']} ({source_tally(summary)})",
                  title_justify="left")
    table.add_column("source")
    table.add_column("status")
    for header in HEADERS:
        table.add_column(header, justify="right")
    table.add_column("wall s", justify="right")
    for sid, result in summary.get("sources", {}).items():
        counts = result.get("counts", {})
        wall = wall_seconds(result)
        table.add_row(sid, result["status"], *(str(counts.get(c, 0)) for c in COLUMNS),
                      "—" if wall is None else f"{wall:.1f}")
    return table


def stage_lines(summary: dict[str, Any]) -> list[str]:
    """Per source, the seconds its stages took, labelled as stage time: summed over the batches that ran in
    parallel, so they may add up to more than the source's wall time."""
    lines = []
    for sid, result in summary.get("sources", {}).items():
        timings = {k: v for k, v in (result.get("timings") or {}).items() if v}
        if timings:
            parts = ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in timings.items())
            lines.append(f"{sid}: {parts}")
    return lines


def print_summary(console: Console, summary: dict[str, Any], *, style: str = "", stages: bool = True) -> None:
    """The summary table, the stage times and one line per source that has errors. Error lines are plain
    ``Text`` (not markup), so a reason such as ``[fetch]: HTTP 404`` prints as it is instead of being read
    as a style tag."""
    console.print(summary_table(summary))
    if stages and (lines := stage_lines(summary)):
        console.print(Text("stage seconds (summed over parallel batches): " + "; ".join(lines), style="dim"))
    for line in error_lines(summary):
        console.print(Text(f"  {line}", style=style))


def in_words(reason: str) -> str:
    """A failure reason without the host's and Python's wrapping: ``discover: cannot reach ...`` (records
    written before reasons were stored so)."""
    return failure_reason(reason, limit=None) if reason.strip() else reason


def error_lines(summary: dict[str, Any]) -> list[str]:
    """One line per source that failed or has failed documents: the source's own failure, or how many
    documents failed and the first reason (the run report lists them all)."""
    lines = []
    for sid, result in summary.get("sources", {}).items():
        if result.get("message"):
            lines.append(f"{sid}: {in_words(result['message'])}")
            continue
        errors = result.get("errors") or []
        if not errors:
            continue
        failed = (result.get("counts") or {}).get("failed", 0) or len(errors)
        first = errors[0]
        where = f" {first['doc_id']}" if first.get("doc_id") else ""
        more = f"{failed} documents failed, first:" if failed > 1 else "1 document failed:"
        lines.append(f"{sid}: {more}{where} [{first['stage']}]: {in_words(first['reason'])}")
    return lines

"""The run report: one self-contained HTML page (inline CSS and SVG, no scripts, no external resources).

Per-source table, stage timings, a chart of documents processed over time, and errors grouped by
reason. Every number carries a ``data-*`` attribute so tests (and scripts) can read it from the rendered page.

All of the report is here: ``render_report(summary, timeline)`` draws the page (pure; the SVG pieces are in
``shared.runs.report_chart``), ``render_run_report`` draws it for a run record (redacted) and the Durable history
of its orchestrations (``history_instances`` says which), and ``publish_report`` writes it next to the run
record (``runs/{run_id}/report.html``) when the run ends (the ``publish_run`` activity). ``harvest report`` and
``GET /api/runs/{id}/report`` serve it (``shared.runs.operations.report_html``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from html import escape
from typing import Any

from azure.storage.blob import ContentSettings

from shared import names
from shared.models import RunSummary
from shared.redact import redact_value
from shared.runs import timeline
from shared.runs.report_chart import documents_over_time, legend, stage_bar
from shared.storage import layout
from shared.storage.blobs import BlobStore

log = logging.getLogger("harvest.report")
HISTORY_SOURCES = 100  # sources whose orchestration history feeds the chart
HISTORY_READS = 8  # histories read at once
HTML = ContentSettings(content_type="text/html; charset=utf-8")

COUNTS = ("discovered", "added", "updated", "unchanged", "deleted", "failed", "chunks_embedded", "chunks_reused",
          "index_upserted", "index_deleted")
HEADERS = ("found", "added", "updated", "same", "deleted", "failed", "embedded", "reused", "vectors upserted",
           "vectors deleted")
STAGES = ("discover", "fetch", "chunk", "embed", "commit", "publish")
STATUS_COLOURS = {"completed": "#2f855a", "partial": "#b7791f", "failed": "#c53030", "cancelled": "#4a5568",
                  "running": "#2b6cb0", "suspended": "#6b46c1", "pending": "#718096", "skipped": "#718096"}
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1a202c;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e2e8f0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid #edf2f7;text-align:right;vertical-align:top}
th:first-child,td:first-child,td.l,th.l{text-align:left}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px}
.cards{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #e2e8f0;border-radius:6px;padding:6px 12px}
.card b{display:block;font-size:18px}.muted{color:#718096}
.bar{display:flex;height:12px;width:100%;min-width:120px;background:#f7fafc}.seg{display:block;height:12px}
.key{margin-right:12px;font-size:12px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
code{font-size:12px}
"""


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def general_reason(reason: str, doc_id: str | None = None) -> str:
    """The reason without what is specific to one document (its id, URLs), so that equal failures group."""
    reason = _URL.sub("<url>", reason)
    return reason.replace(doc_id, "<document>") if doc_id and len(doc_id) > 2 else reason


def readable_time(value: Any) -> str:
    """An ISO time as ``2026-11-23 02:00:00 UTC``; anything else unchanged (``—`` when empty)."""
    if not value:
        return "—"
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return f"{when:%Y-%m-%d %H:%M:%S} UTC"


def _badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#718096")
    return f'<span class="badge" style="background:{colour}" data-status="{escape(status)}">{escape(status)}</span>'


def _seconds(summary: dict[str, Any]) -> float | None:
    start, end = summary.get("started_at"), summary.get("finished_at")
    if not start or not end:
        return None
    return (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()


def _header(summary: dict[str, Any]) -> str:
    options = summary.get("options") or {}
    chosen = [k for k in ("full_refresh", "dry_run", "reembed") if options.get(k)]
    if options.get("sources"):
        chosen.append("sources=" + ",".join(options["sources"]))
    seconds = _seconds(summary)
    rows = [("trigger", summary.get("trigger")), ("options", ", ".join(chosen) or "defaults"),
            ("requested", readable_time(summary.get("requested_at"))),
            ("started", readable_time(summary.get("started_at"))),
            ("finished", readable_time(summary.get("finished_at"))),
            ("duration", f"{seconds:.1f} s" if seconds is not None else "—")]
    meta = "".join(f'<tr><th class="l">{k}</th><td class="l" data-field="{k}">{escape(str(v or "—"))}</td></tr>'
                   for k, v in rows)
    message = f'<p data-field="message">{escape(summary["message"])}</p>' if summary.get("message") else ""
    return (f'<h1>Harvest run <code data-field="run_id">{escape(summary["run_id"])}</code> '
            f'{_badge(summary["status"])}</h1>{message}<table style="width:auto">{meta}</table>')


def _totals(summary: dict[str, Any]) -> str:
    totals = summary.get("totals") or {}
    cards = "".join(f'<div class="card">{h}<b data-total="{c}">{int(totals.get(c, 0))}</b></div>'
                    for c, h in zip(COUNTS, HEADERS, strict=True))
    return f'<h2>Totals</h2><div class="cards">{cards}</div>'


def _sources(summary: dict[str, Any]) -> str:
    sources = summary.get("sources") or {}
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    rows = []
    for sid, r in sources.items():
        counts = r.get("counts") or {}
        cells = "".join(f'<td data-count="{c}">{int(counts.get(c, 0))}</td>' for c in COUNTS)
        seconds = sum((r.get("timings") or {}).values())
        rows.append(f'<tr data-source="{escape(sid)}"><td>{escape(sid)}</td><td class="l">{_badge(r["status"])}</td>'
                    f'{cells}<td data-count="pages">{r.get("pages", 0)}</td>'
                    f'<td data-count="batches">{r.get("batches", 0)}</td><td>{seconds:.1f}</td></tr>')
    body = "".join(rows) or f'<tr><td colspan="{len(COUNTS) + 5}" class="l muted">no sources</td></tr>'
    return (f'<h2>Sources ({len(sources)})</h2><table data-table="sources"><tr><th>source</th><th class="l">status</th>'
            f'{head}<th>pages</th><th>batches</th><th>seconds</th></tr>{body}</table>')


def _timings(summary: dict[str, Any]) -> str:
    sources = summary.get("sources") or {}
    totals = {s: round(sum((r.get("timings") or {}).get(s, 0.0) for r in sources.values()), 3) for s in STAGES}
    scale = max((sum((r.get("timings") or {}).values()) for r in sources.values()), default=0.0)
    total_row = "".join(f'<td data-stage-total="{s}">{totals[s]:.2f}</td>' for s in STAGES)
    rows = []
    for sid, r in list(sources.items())[:200]:
        t = r.get("timings") or {}
        rows.append(f'<tr><td>{escape(sid)}</td>{"".join(f"<td>{t.get(s, 0.0):.2f}</td>" for s in STAGES)}'
                    f'<td class="l" style="width:35%">{stage_bar(t, scale)}</td></tr>')
    more = f'<p class="muted">first 200 of {len(sources)} sources shown</p>' if len(sources) > 200 else ""
    head = "".join(f"<th>{s} s</th>" for s in STAGES)
    return (f'<h2>Stage timings</h2><p>{legend()}</p><table data-table="timings"><tr><th>source</th>{head}'
            f'<th class="l"></th></tr><tr><td><b>all sources</b></td>{total_row}<td></td></tr>{"".join(rows)}'
            f"</table>{more}")


def group_errors(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Errors of every source grouped by (stage, reason): count, sources, example documents."""
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "sources": set(), "examples": []})
    for sid, r in (summary.get("sources") or {}).items():
        if r.get("message") and r.get("status") == "failed":
            g = groups[("source", r["message"][:300])]
            g["count"] += 1
            g["sources"].add(sid)
        for e in r.get("errors") or []:
            reason = general_reason(str(e.get("reason", "")), e.get("doc_id"))[:300]
            g = groups[(e.get("stage") or "", reason)]
            g["count"] += 1
            g["sources"].add(sid)
            if e.get("doc_id") and len(g["examples"]) < 3:
                g["examples"].append(e["doc_id"])
    out = [{"stage": stage, "reason": reason, "count": g["count"], "sources": sorted(g["sources"]),
            "examples": g["examples"]} for (stage, reason), g in groups.items()]
    return sorted(out, key=lambda g: (-g["count"], g["reason"]))


def _errors(summary: dict[str, Any]) -> str:
    groups = group_errors(summary)
    if not groups:
        return '<h2>Errors</h2><p class="muted" data-errors="0">No errors.</p>'
    rows = "".join(
        f'<tr data-error-group><td data-count="errors">{g["count"]}</td><td class="l">{escape(g["stage"])}</td>'
        f'<td class="l">{escape(g["reason"])}</td><td class="l">{escape(", ".join(g["sources"]))}</td>'
        f'<td class="l">{escape(", ".join(g["examples"]))}</td></tr>' for g in groups[:100])
    return (f'<h2>Errors grouped by reason</h2><p class="muted">Each source keeps its first 20 errors.</p>'
            f'<table data-table="errors"><tr><th>count</th><th class="l">stage</th><th class="l">reason</th>'
            f'<th class="l">sources</th><th class="l">examples</th></tr>{rows}</table>')


def _notifications(summary: dict[str, Any]) -> str:
    items = summary.get("notifications") or []
    if not items:
        return ""
    rows = "".join(f'<tr><td>{escape(n["channel"])}</td><td class="l">{"sent" if n["ok"] else "failed"}</td>'
                   f'<td>{n.get("attempts", 0)}</td><td class="l">{escape(n.get("detail") or "")}</td></tr>'
                   for n in items)
    return (f'<h2>Notifications</h2><table><tr><th>channel</th><th class="l">result</th><th>attempts</th>'
            f'<th class="l">detail</th></tr>{rows}</table>')


def render_report(summary: dict[str, Any], timeline: list[dict[str, Any]] | None = None) -> str:
    title = f"Harvest run {summary['run_id']} — {summary['status']}"
    chart = documents_over_time(timeline or [])
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f"{_header(summary)}{_totals(summary)}{_sources(summary)}{_timings(summary)}"
            f"<h2>Documents processed over time</h2>{chart}{_errors(summary)}{_notifications(summary)}"
            f'<p class="muted">Generated by Harvest from the run record <code>runs/{escape(summary["run_id"])}'
            f"/run.json</code>.</p></body></html>")


def render_run_report(summary: RunSummary, history: list[dict[str, Any]] | None = None) -> str:
    """The run's HTML report, its record redacted. ``history``: the Durable history events of its source
    orchestrations, for the documents-over-time chart; without it, each source counts at its finish time."""
    data = summary.model_dump(mode="json")
    points = timeline.cumulative(timeline.processed_events(history), summary.started_at) if history else []
    return render_report(redact_value(data), points or timeline.from_source_results(data))


def history_instances(summary: RunSummary, sources: int = HISTORY_SOURCES) -> list[str]:
    """The orchestrations whose history feeds the chart: each source orchestration of the run's first
    ``sources`` sources, and its batch lanes (where its prepare activities ran)."""
    ids: list[str] = []
    for sid, result in list(summary.sources.items())[:sources]:
        ids.append(names.source_instance_id(summary.run_id, sid))
        ids += [names.batch_lane_id(summary.run_id, sid, page, lane) for page in range(result.pages)
                for lane in range(result.lanes)]
    return ids


async def publish_report(store: BlobStore, summary: RunSummary,
                         read_history: Callable[[str], Awaitable[list[dict[str, Any]]]]) -> tuple[str, int]:
    """Render the run's report from its record and its orchestrations' history (``read_history(instance id)``:
    the events as the Durable status API shows them; a history that cannot be read is left out of the chart)
    and write it next to the run record. Returns the blob's name and the page's length."""
    limit = asyncio.Semaphore(HISTORY_READS)

    async def one(instance_id: str) -> list[dict[str, Any]]:
        async with limit:
            try:
                return [ev for ev in await read_history(instance_id) if isinstance(ev, dict)]
            except Exception as exc:  # the chart falls back to per-source finish times
                log.info("no history for %s (%s)", instance_id, exc)
                return []

    histories = await asyncio.gather(*(one(iid) for iid in history_instances(summary)))
    html = render_run_report(summary, [ev for events in histories for ev in events])
    name = layout.report_blob(summary.run_id)
    await store.write_bytes(name, html.encode("utf-8"), content_settings=HTML)
    return name, len(html)

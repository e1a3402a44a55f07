"""`harvest runs`: run history from the run index in Blob storage, newest first (no host needed)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.commands.common import err, fail, out, with_storage
from shared.runs.status import RUN_STATUSES as STATUSES


def parse_since(value: str | None) -> datetime | None:
    """``7d``, ``12h``, ``30m`` (ago) or an ISO 8601 date / date-time."""
    if not value:
        return None
    match = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"--since: {value!r} is not like 7d, 12h or 2026-11-23") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def runs(
    status: Annotated[str | None, typer.Option("--status", help=f"One of: {', '.join(STATUSES)}.")] = None,
    source: Annotated[str | None, typer.Option("--source", "-s", help="Runs that covered this source.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="7d, 12h, or an ISO date/time.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent runs, newest first: status, trigger, start, duration, document counts."""
    if status is not None and status not in STATUSES:
        raise fail(f"--status must be one of {', '.join(STATUSES)}")
    after = parse_since(since)
    items = with_storage(lambda: _list(status, source, after, limit))
    if as_json:
        print(json.dumps(items, indent=2))
        return
    if not items:
        err.print("no runs found" + (" for these filters" if status or source or since else ""))
        return
    out.print(runs_table(items))


async def _list(status: str | None, source: str | None, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    from shared.pipeline.context import open_context
    from shared.runs.index import RunQuery, list_runs

    out: list[dict[str, Any]] = []
    token = None
    async with open_context() as ctx:
        while len(out) < limit:
            query = RunQuery(status=status, source=source, since=since, limit=min(limit - len(out), 100))
            items, token = await list_runs(ctx.store, query, token)
            out += items
            if token is None:
                break
    return out


def runs_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title="runs (newest first)", title_justify="left")
    for column in ("run", "status", "trigger", "started (UTC)", "seconds", "added", "updated", "deleted", "failed",
                   "sources"):
        table.add_column(column, justify="right" if column in ("seconds", "added", "updated", "deleted", "failed")
                         else "left", no_wrap=column in ("run", "status", "started (UTC)"))
    for item in items:
        t = item.get("totals") or {}
        started = (item.get("started_at") or item.get("requested_at") or "")[:19].replace("T", " ")
        seconds = f"{item['duration_s']:.1f}" if item.get("duration_s") is not None else "—"
        sources = item.get("sources") or {}
        bad = [sid for sid, st in sources.items() if st in ("failed", "partial")]
        label = f"{len(sources)}" + (f" ({len(bad)} not ok: {', '.join(bad[:3])})" if bad else "")
        table.add_row(item["run_id"], item["status"] + (" (dry run)" if item.get("dry_run") else ""),
                      item.get("trigger") or "", started, seconds, str(t.get("added", 0)), str(t.get("updated", 0)),
                      str(t.get("deleted", 0)), str(t.get("failed", 0)), label)
    return table


def register(app: typer.Typer) -> None:
    app.command()(runs)

"""`harvest stats [--days N]` and `harvest health`: the CLI twins of ``GET /api/stats`` and ``GET /api/health``
(the same functions, ``shared.runs.stats`` and ``shared.health``), and `harvest sources reset ID` (``POST
/api/sources/{id}/reset``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from cli.commands.common import checked_source_id, err, fail, with_storage
from cli.commands.sources import app as sources_app


def stats(days: Annotated[int, typer.Option("--days", "-d", min=1, max=365, help="The last N days.")] = 7,
          as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Runs by status, success rate, documents and chunks, mean / p95 duration, failures by source."""
    found = with_storage(lambda: _stats(days))
    if as_json:
        print(json.dumps(found, indent=2))
        return
    duration = found.get("duration_s") or {}
    by_status = ", ".join(f"{n} {status}" for status, n in (found.get("by_status") or {}).items() if n)
    print(f"last {days} day(s): {found.get('runs', 0)} run(s)" + (f" ({by_status})" if by_status else ""))
    if found.get("success_rate") is not None:
        print(f"success rate {found['success_rate']:.0%}; duration mean {duration.get('mean') or 0:.1f} s, "
              f"p95 {duration.get('p95') or 0:.1f} s")
    for day in found.get("per_day") or []:
        print(f"  {day['day']}: {day['runs']} run(s), {day['documents']} document(s), {day['chunks']} chunk(s) "
              f"embedded, {day['failed']} document(s) failed")
    for item in found.get("failures_by_source") or []:
        print(f"  {item['source_id']}: failed in {item['failed']} run(s), partial in {item['partial']} "
              f"(last: {item['last_run_id']})")


async def _stats(days: int) -> dict[str, Any]:
    from shared.pipeline.context import open_context
    from shared.runs.index import iter_since
    from shared.runs.stats import compute_stats

    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    async with open_context() as ctx:
        entries = await iter_since(ctx.store, since)
    return compute_stats(entries, days=days, since=since, now=now)


def health(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Settings, storage, manifest and embedder, each checked (exit 1 naming what fails)."""
    from shared.health import check_health

    ok, checks = with_storage(check_health)
    if as_json:
        print(json.dumps({"status": "ok" if ok else "unhealthy", "checks": checks}, indent=2))
    else:
        for check in checks:
            print(f"{'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['message']} ({check['ms']:.0f} ms)")
    if not ok:
        raise typer.Exit(1)


def reset(source_id: Annotated[str, typer.Argument(help="A source id of the manifest.")]) -> None:
    """The source's next run re-reads it from the beginning (refused while a run holds it)."""
    from shared.pipeline.context import manifest_for
    from shared.settings import get_settings

    checked_source_id(source_id, "ID")

    async def work() -> None:
        from shared.pipeline.context import open_context
        from shared.sources.info import SourceBusy, request_reset

        if source_id not in manifest_for(get_settings()).ids():
            raise fail(f"no source {source_id!r} in the manifest (`harvest sources list`)", 1)
        async with open_context() as ctx:
            try:
                await request_reset(ctx.store, source_id)
            except SourceBusy as exc:
                raise fail(f"{exc}: reset it after that run ends (or `harvest cancel {exc.run_id}`)", 1) from None

    with_storage(work, check_manifest=True)
    err.print(f"source {source_id}: its next run re-reads it from the beginning", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(stats)
    app.command()(health)
    sources_app.command("reset")(reset)

"""`harvest report RUN_ID [--out FILE.html]`: the run's self-contained HTML report."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.commands.common import checked_run_id, environment, err, fail


def report(run_id: Annotated[str, typer.Argument(help="The run id.")],
           out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the HTML here (else stdout).")] = None,
           ) -> None:
    """The run's HTML report: per-source table, stage timings, documents over time, errors by reason."""
    checked_run_id(run_id)
    env = environment()
    try:
        html = asyncio.run(_report(run_id))
    finally:
        env.close()
    if html is None:
        raise fail(f"no run record for {run_id!r}", 1)
    if out is None:
        sys.stdout.write(html)
        return
    out.write_text(html, encoding="utf-8")
    err.print(f"report of run {run_id} written to {out} ({len(html.encode()):,} bytes)", highlight=False)


async def _report(run_id: str) -> str | None:
    """The report written at the end of the run, or one rendered now from the run record."""
    from shared.pipeline.context import open_context
    from shared.report import render_report
    from shared.runs import timeline
    from shared.storage.records import read_run

    async with open_context() as ctx:
        stored = await ctx.store.read_bytes(f"runs/{run_id}/report.html")
        if stored is not None:
            return stored.decode("utf-8")
        summary = await read_run(ctx.store, run_id)
    if summary is None:
        return None
    data = summary.model_dump(mode="json")
    return render_report(data, timeline.from_source_results(data))


def register(app: typer.Typer) -> None:
    app.command()(report)

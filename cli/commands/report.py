"""`harvest report RUN_ID [--out FILE.html]`: the run's self-contained HTML report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.commands.common import checked_run_id, err, fail, with_storage


def report(run_id: Annotated[str, typer.Argument(help="The run id.")],
           out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the HTML here (else stdout).")] = None,
           ) -> None:
    """The run's HTML report: per-source table, stage timings, documents over time, errors by reason."""
    checked_run_id(run_id)
    html = with_storage(lambda: _report(run_id))
    if html is None:
        raise fail(f"no run record for {run_id!r}", 1)
    if out is None:
        sys.stdout.write(html)
        return
    out.write_text(html, encoding="utf-8")
    err.print(f"report of run {run_id} written to {out} ({len(html.encode()):,} bytes)", highlight=False)


async def _report(run_id: str) -> str | None:
    """The report written at the end of the run, or one rendered now from the run record (as the API's)."""
    from shared.pipeline.context import open_context
    from shared.runs.operations import report_html

    async with open_context() as ctx:
        html = await report_html(ctx.store, run_id)
    return None if html is None else html.decode("utf-8")


def register(app: typer.Typer) -> None:
    app.command()(report)

"""`harvest verify [--repair]`: check the corpus against its records; repair by making the next run
re-ingest what is missing or broken (see ``shared.corpus.verify``). Exit 0 when clean or repaired, 1 when problems
were found and not repaired."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from cli.commands.common import checked_source_id, err, with_storage

if TYPE_CHECKING:  # the CLI imports shared/ lazily to start fast
    from shared.corpus.verify import VerifyReport


def verify(repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed; then run again.")] = False,
           source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only this source.")] = None,
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check every current version blob, document record, checkpoint and hint index; --repair fixes them."""
    for source_id in source or []:
        checked_source_id(source_id)
    report = with_storage(lambda: _verify(source, repair))
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print(report)
    if report.problems and not report.repaired:
        raise typer.Exit(1)


async def _verify(sources: list[str] | None, repair: bool) -> VerifyReport:
    from shared.corpus.verify import repair as do_repair
    from shared.corpus.verify import verify as check
    from shared.pipeline.context import open_context

    async with open_context() as ctx:
        report = await check(ctx.store, sources or None)
        return await do_repair(ctx.store, report) if repair and report.problems else report


def _print(report: VerifyReport) -> None:
    from shared.corpus.verify import KINDS

    for s in report.sources:
        state = "ok" if not s.problems else f"{len(s.problems)} problem(s)"
        print(f"{s.source_id}: {s.documents} document record(s), {s.live} live: {state}")
        for p in s.problems:
            mark = "repaired" if p.repaired else "found"
            print(f"  {mark}: {KINDS[p.kind]}: {p.blob}" + (f" ({p.doc_id})" if p.doc_id else "")
                  + (f" — {p.detail}" if p.detail else ""))
        if s.skipped:
            print(f"  not repaired: {s.skipped}")
    if not report.sources:
        print("nothing stored yet: run `harvest run` first")
    elif not report.problems:
        print("the corpus agrees with its records")
    elif report.repaired:
        fixed = sorted({p.source_id for p in report.problems if p.repaired})
        if fixed:
            names = " ".join(f"--source {sid}" for sid in fixed)
            err.print(f"repaired: run `harvest run {names}` to re-ingest what was missing", highlight=False,
                      markup=False)
    else:
        err.print("run `harvest verify --repair`, then `harvest run`, to re-ingest what is missing",
                  highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command()(verify)

"""`harvest status RUN_ID`: the run record's status and per-source counts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli.commands.common import (
    checked_run_id,
    environment,
    fail,
    out,
    run_interruptible,
    with_storage,
)
from cli.render import print_summary


def status(run_id: Annotated[str, typer.Argument(help="The run id (e.g. run-20261123T101500Z-ab12cd).")],
           as_json: Annotated[bool, typer.Option("--json")] = False,
           watch: Annotated[bool, typer.Option("--watch", "-w", help="Follow live progress until it ends.")] = False,
           ) -> None:
    """The run's status and per-source counts, from its run record in Blob storage."""
    checked_run_id(run_id)
    if watch:
        from cli.commands.watch import watch as follow
        from cli.render import view_table

        env = environment()
        try:
            view, note = run_interruptible(follow(run_id, env.task_hub, env.connection_string), env,
                                           lambda: "stopped watching")
        finally:
            env.close()
        if view is None and note is None:
            raise fail(f"no run record or orchestration for {run_id!r}", 1)
        if view is not None:
            if as_json:
                print(json.dumps(view, indent=2))
            else:
                out.print(view_table(view))
        if note is not None:
            raise fail(note, 1)
        return
    summary = with_storage(lambda: _read_run(run_id))
    if summary is None:
        raise fail(f"no run record for {run_id!r}", 1)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(out, summary)


async def _read_run(run_id: str) -> dict[str, Any] | None:
    from shared.pipeline.context import open_context
    from shared.storage.records import read_run

    async with open_context() as ctx:
        found = await read_run(ctx.store, run_id)
    return None if found is None else found.model_dump(mode="json")


def register(app: typer.Typer) -> None:
    app.command()(status)

"""`harvest status RUN_ID`: the run as storage holds it — its record, its orchestrations' last progress
(per-source phase and counts) — and who runs it: a live host, or nothing (an interrupted run, with the ways
on)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from cli.commands.common import (
    checked_run_id,
    environment,
    err,
    fail,
    out,
    run_interruptible,
)
from cli.render import print_summary
from shared.runs.status import RUN_FINAL, RUNTIME_ACTIVE


def status(run_id: Annotated[str, typer.Argument(help="The run id (e.g. run-20261123T101500Z-ab12cd).")],
           as_json: Annotated[bool, typer.Option("--json")] = False,
           watch: Annotated[bool, typer.Option("--watch", "-w", help="Follow live progress until it ends.")] = False,
           ) -> None:
    """The run's status, per-source phase and counts, from storage (whichever process runs it, or none)."""
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
            if not _answers(view.get("status_url")):
                view["status_url"] = None
            if as_json:
                print(json.dumps(view, indent=2))
            else:
                out.print(view_table(view))
        if note is not None:
            raise fail(note, 1)
        return
    env = environment()
    try:
        view, holder = asyncio.run(_read_status(run_id, env.connection_string, env.task_hub))
    finally:
        env.close()
    if view is None:
        raise fail(f"no run record for {run_id!r}", 1)
    note = _where_it_stands(run_id, view, holder)
    if as_json:
        print(json.dumps({**view, "host": holder.describe() if holder else None,
                          "interrupted": note is not None and holder is None}, indent=2))
        return
    if view.get("status") in RUN_FINAL:
        print_summary(out, view)
        return
    from cli.render import view_table

    out.print(view_table(view))
    if note:
        err.print(note, highlight=False, markup=False, soft_wrap=True)


def _where_it_stands(run_id: str, view: dict[str, Any], holder: Any) -> str | None:
    """For a run that has not ended: who runs it, or that nothing does and the ways on."""
    if view.get("status") in RUN_FINAL or view.get("runtime_status") not in RUNTIME_ACTIVE:
        return None
    if holder is None:
        state = "is suspended" if view.get("runtime_status") == "Suspended" else \
            "was interrupted: nothing is running it now"
        return (f"run {run_id} {state}; `harvest resume` continues it, `harvest cancel {run_id}` abandons it")
    return f"run {run_id} is running in {holder.describe()}; `harvest status {run_id} --watch` follows it"


async def _read_status(run_id: str, connection_string: str, task_hub: str) -> tuple[dict[str, Any] | None, Any]:
    """The run as storage holds it — its record, its orchestrations' last progress (phase, counts) — and the
    live host holding the task hub, if any. Status URLs on a loopback port nothing listens on (the port of
    a `harvest run` that has ended) are left out."""
    from cli.instances import StoredInstances
    from devhost.lock import read_holder
    from devhost.store import InstanceStore
    from shared.pipeline.context import open_context
    from shared.runs.operations import live_view

    store = InstanceStore(connection_string, task_hub)
    try:
        await store.open()
        holder = await read_holder(store.container)
        async with open_context() as ctx:
            view = await live_view(ctx.store, StoredInstances(store), run_id)
    finally:
        await store.close()
    if view is not None and not _answers(view.get("status_url")):
        view["status_url"] = None
    return view, holder


def _answers(url: Any) -> bool:
    """False for a loopback URL whose port nothing listens on; True otherwise (other hosts are not probed)."""
    from urllib.parse import urlsplit

    from devhost.azurite import is_listening

    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return True
    return is_listening(parts.hostname or "127.0.0.1", parts.port or 80)


def register(app: typer.Typer) -> None:
    app.command()(status)

"""`harvest resume [RUN_ID]`: continue unfinished runs — after a crash, a kill or Ctrl-C, or a suspend — and
wait for them. With `harvest serve` holding the task hub, it resumes a suspended run there (the CLI twin of
``POST /api/runs/{id}/resume``); serve continues interrupted runs by itself."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from cli.commands.common import (
    EXIT,
    checked_run_id,
    environment,
    err,
    exit_now,
    fail,
    local_host,
    out,
    run_interruptible,
    stop_host,
)
from cli.commands.follow import HostLost, ended_summary, follow, lost_message
from cli.render import print_summary
from devhost.environment import Environment
from shared.runs.engine import OrchestrationControl
from shared.runs.status import RUN_FINAL, RUNTIME_ACTIVE


def resume(
    run_id: Annotated[str | None, typer.Argument(help="Only this run (default: every unfinished run).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summaries as a JSON list on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Continue unfinished runs (after a crash, Ctrl-C or a suspend) and wait for each to end."""
    if run_id is not None:
        checked_run_id(run_id)
    env = environment(verbose=verbose, log_level=logging.ERROR)
    try:
        summaries = run_interruptible(_resume(env, run_id, live=not as_json and sys.stderr.isatty()), env,
                                      lambda: "interrupted: unfinished runs stay unfinished; `harvest resume` "
                                              "continues them")
    finally:
        env.close()
    if as_json:
        print(json.dumps(summaries, indent=2))
    elif not summaries:
        err.print("no unfinished runs" + (f" named {run_id}" if run_id else ""))
    for summary in summaries if not as_json else []:
        print_summary(out, summary, style="yellow")
    codes = [EXIT.get(s.get("status", "failed"), 1) for s in summaries]
    raise typer.Exit(1 if 1 in codes else 3 if 3 in codes else 0)


async def _unfinished_runs(rpc_base_url: str) -> list[str]:
    """The run orchestrations in the task hub that have not ended and whose record is not final (a run
    cancelled while no host ran it is only waiting for a host to stop its orchestration), oldest first: listed
    on the in-process host's Durable RPC endpoint, which needs no key (the webhook API needs the system key)."""
    import aiohttp

    from shared import names
    from shared.pipeline.context import open_context
    from shared.runs.record import read as read_run

    query = ",".join(sorted(s for s in RUNTIME_ACTIVE if s != "ContinuedAsNew"))
    async with aiohttp.ClientSession() as http, http.get(f"{rpc_base_url}instances?runtimeStatus={query}") as resp:
        resp.raise_for_status()
        listed = await resp.json()
    runs = [s["instanceId"] for s in sorted(listed, key=lambda s: s.get("createdTime", ""))
            if s.get("name") == names.RUN_ORCHESTRATOR]
    async with open_context() as ctx:
        records = {run_id: await read_run(ctx.store, run_id) for run_id in runs}
    return [r for r in runs if records[r] is None or records[r].status not in RUN_FINAL]  # type: ignore[union-attr]


async def resume_suspended(engine: OrchestrationControl, run_id: str) -> None:
    """A suspended run is resumed as ``POST /api/runs/{id}/resume`` does it: with its source orchestrations,
    and its record back to running."""
    from shared.pipeline.context import open_context
    from shared.runs import operations

    async with open_context() as ctx:
        run = await engine.get(run_id)
        if run is None or run.runtime_status != "Suspended":
            return
        try:
            await operations.control(ctx.store, engine, run_id, "resume", "harvest resume")
        except (operations.RunNotFound, operations.RunConflict) as exc:
            err.print(f"{exc}: left as it is", highlight=False, markup=False)


async def _resume(env: Environment, only: str | None, *, live: bool) -> list[dict[str, Any]]:
    from cli.commands.control import through_host
    from cli.hub import inspect_hub
    from cli.instances import HostInstances
    from devhost.lock import HostLockError
    from devhost.worker import WorkerLoadError

    hub = await inspect_hub(env.connection_string, env.task_hub)
    if hub.holder is not None:  # a live host runs the task hub: it continues interrupted runs by itself
        target = only or hub.run_id
        if target and hub.holder.url and hub.suspended and target == hub.run_id:
            await through_host(hub.holder, "resume", target, "harvest resume")
            err.print(f"run {target} resumed in {hub.holder.describe()}; `harvest status {target} --watch` follows "
                      "it", highlight=False)
            return []
        raise fail(f"{hub.holder.describe()} runs this task hub and continues unfinished runs by itself"
                   + (f": `harvest status {target} --watch` follows run {target}" if target else ""))
    host = local_host(env, port=0, fire_timers=False, role="harvest resume")
    try:
        await host.start()  # the host resumes every unfinished instance as it starts
    except WorkerLoadError as exc:
        raise fail(f"the Functions worker refused the app (Azure would load no function): {exc}") from None
    except HostLockError as exc:
        who = exc.holder.describe() if exc.holder else "another host"
        raise fail(f"{who} took the task hub meanwhile; it continues unfinished runs by itself") from None
    summaries: list[dict[str, Any]] = []
    current: str | None = None
    try:
        engine = HostInstances(host)
        for run_id in await _unfinished_runs(host.rpc_base_url):
            if only is not None and run_id != only:
                continue
            current = run_id
            await resume_suspended(engine, run_id)
            err.print(f"resuming run {run_id}", highlight=False)
            status = await follow(engine, run_id, live=live, lease_lost=host.lease_lost)
            try:
                summaries.append(await ended_summary(status, run_id))
            except typer.Exit:  # said why; the others still get their turn
                summaries.append({"run_id": run_id, "status": "failed", "sources": {}})
    except HostLost:
        await stop_host(host, timeout=5.0)
        env.close()
        message = lost_message("harvest resume", current, host.lease_lost_why)
        err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
        exit_now(1)
    finally:
        if not host.lease_lost.is_set():
            await stop_host(host)
    return summaries


def register(app: typer.Typer) -> None:
    app.command()(resume)

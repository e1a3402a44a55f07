"""`harvest run`: one ingestion through the local host (the same starter and orchestrators as Azure)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Annotated, Any

import typer
from rich.live import Live

from cli.commands.common import (
    EXIT,
    close_sdk_session,
    environment,
    err,
    fail,
    local_host,
    out,
    run_interruptible,
    stop_host,
    warn_unrunnable,
)
from cli.instances import host_orchestrations
from cli.render import print_summary, view_line, view_table
from devhost.environment import Environment
from devhost.keys import client_headers
from shared.runs.engine import Instance, OrchestrationControl, Orchestrations
from shared.runs.status import RUNTIME_ACTIVE, RUNTIME_ENDED


def run(
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source id (repeatable).")
    ] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Re-read everything.")] = False,
    reembed: Annotated[
        bool, typer.Option("--reembed", help="With --full-refresh: embed every chunk again (no vector reuse).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")] = False,
    manifest: Annotated[str | None, typer.Option("--manifest", "-m", help="Source manifest file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run one ingestion through the local host and print its summary."""
    # the summary says what failed, one line a source: retries and failures are logged only with -v
    env = environment(manifest, check_manifest=True, verbose=verbose, log_level=logging.ERROR)
    warn_unrunnable(list(source) if source else None)
    body: dict[str, Any] = {"full_refresh": full_refresh or reembed, "dry_run": dry_run, "reembed": reembed}
    if source:
        body["sources"] = list(source)
    where: dict[str, str] = {}  # run_id (once started), host_url (when an already running host runs it)
    try:
        summary = run_interruptible(_run(env, body, live=not as_json and sys.stderr.isatty(), where=where),
                                    env, lambda: unfinished(where))
    finally:
        env.close()
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(out, summary, style="yellow")
        err.print(corpus_line(summary.get("totals", {}), dry_run=dry_run), highlight=False)
    raise typer.Exit(EXIT.get(summary.get("status", "failed"), 1))


def corpus_line(totals: dict[str, Any], *, dry_run: bool) -> str:
    """The one-line corpus summary; a dry run says what *would* change, since it wrote nothing."""
    counts = (f"{totals.get('added', 0)} added, {totals.get('updated', 0)} updated, {totals.get('deleted', 0)} "
              f"deleted; {totals.get('chunks_embedded', 0)} chunks embedded, {totals.get('chunks_reused', 0)} reused")
    if dry_run:
        counts = (f"{totals.get('added', 0)} would be added, {totals.get('updated', 0)} updated, "
                  f"{totals.get('deleted', 0)} deleted; {totals.get('chunks_embedded', 0)} chunks would be embedded, "
                  f"{totals.get('chunks_reused', 0)} reused")
        return f"dry run — nothing was written. corpus: {counts}."
    return f"corpus: {counts}. Try: harvest query \"...\""


def unfinished(where: dict[str, str]) -> str:
    """What an interrupted `harvest run` tells the user."""
    run_id = where.get("run_id")
    if run_id is None:
        return "interrupted before a run started"
    if "host_url" in where:
        return (f"stopped following run {run_id}; it goes on in the host at {where['host_url']} "
                f"(`harvest status {run_id} --watch` follows it)")
    return f"run {run_id} is unfinished; `harvest resume` continues it"


async def _run(env: Environment, body: dict[str, Any], *, live: bool, where: dict[str, str]) -> dict[str, Any]:
    import aiohttp

    from devhost.lock import HostLockError
    from devhost.worker import WorkerLoadError

    host = local_host(env, port=0, fire_timers=False)
    base_url = None
    try:
        await host.start()
        base_url = host.base_url
    except WorkerLoadError as exc:
        raise fail(f"the Functions worker refused the app (Azure would load no function): {exc}") from None
    except HostLockError as exc:
        # `harvest serve` already runs this task hub: hand the run to it rather than racing it.
        base_url = os.environ.get("HARVEST_HOST_URL", "http://127.0.0.1:7071").rstrip("/")
        if not await _answers(base_url):
            raise fail(f"{exc}; and no host answers at {base_url} (set HARVEST_HOST_URL)") from None
        err.print(f"a local host already serves this task hub; running through it at {base_url}",
                  highlight=False)
        where["host_url"] = base_url
        host = None
    try:
        async with aiohttp.ClientSession(headers=client_headers()) as http:
            async with http.post(f"{base_url}/api/runs", json=body,
                                 headers={"X-Harvest-Trigger": "cli"}) as resp:
                started = await resp.json(content_type=None)
                if resp.status != 202:
                    details = "; ".join(f"{d['field']}: {d['message']}" for d in started.get("details", []))
                    raise fail(f"{started.get('error', resp.status)}" + (f" — {details}" if details else ""))
            # the CLI hosts (or shares) the local host: it reads the orchestrations on the extension's local RPC
            # endpoint (which needs no key), and the run record from storage
            where["run_id"] = started["run_id"]
            if not live:
                err.print(f"run {started['run_id']} started; status: {started['statusQueryGetUri']}",
                          highlight=False, soft_wrap=True)
            status = await _follow(host_orchestrations(base_url, env.task_hub), started["run_id"], live=live)
    finally:
        if host is not None:
            await stop_host(host)
        else:
            await close_sdk_session()
    if status is None or status.runtime_status != "Completed" or not isinstance(status.output, dict):
        from orchestrators.calls import failure_reason

        ended = status.runtime_status if status else "unknown"
        raise fail(f"run {started['run_id']} ended {ended}: {failure_reason(str(status.output if status else None))}",
                   1)
    return status.output


async def _answers(base_url: str) -> bool:
    import aiohttp

    try:
        async with aiohttp.ClientSession(headers=client_headers()) as http, http.get(
            f"{base_url}/runtime/webhooks/durabletask/instances/", timeout=aiohttp.ClientTimeout(total=5)
        ) as resp:
            return resp.status < 500
    except (aiohttp.ClientError, TimeoutError):
        return False


def _ended(view: dict[str, Any] | None) -> bool:
    return view is not None and view.get("runtime_status") in RUNTIME_ENDED


async def _follow(engine: Orchestrations, run_id: str, *, live: bool) -> Instance | None:
    """Show the run's live view (``shared.runs.operations.live_view``) until its orchestration ends; its
    final state."""
    from shared.pipeline.context import open_context
    from shared.runs.operations import live_view

    async with open_context() as ctx:
        view = await live_view(ctx.store, engine, run_id)
        if not live:  # not a terminal: a plain line whenever the progress changes
            shown = ""
            while not _ended(view):
                if view is not None and (line := view_line(view)) != shown:
                    err.print(line, highlight=False, markup=False, soft_wrap=True)
                    shown = line
                await asyncio.sleep(0.5)
                view = await live_view(ctx.store, engine, run_id)
        else:
            with Live(console=err, refresh_per_second=4, transient=True) as shown_live:
                while not _ended(view):
                    if view is not None:
                        shown_live.update(view_table(view))
                    await asyncio.sleep(0.5)
                    view = await live_view(ctx.store, engine, run_id)
    return await engine.get(run_id)


def resume(
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summaries as a JSON list on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Continue every unfinished run in the task hub (after a crash or Ctrl-C) and wait for each to end."""
    env = environment(verbose=verbose, log_level=logging.ERROR)
    try:
        summaries = run_interruptible(_resume(env, live=not as_json and sys.stderr.isatty()), env,
                                      lambda: "interrupted: unfinished runs stay unfinished; `harvest resume` "
                                              "continues them")
    finally:
        env.close()
    if as_json:
        print(json.dumps(summaries, indent=2))
    elif not summaries:
        err.print("no unfinished runs")
    for summary in summaries if not as_json else []:
        print_summary(out, summary, style="yellow")
    codes = [EXIT.get(s.get("status", "failed"), 1) for s in summaries]
    raise typer.Exit(1 if 1 in codes else 3 if 3 in codes else 0)


async def _unfinished_runs(base_url: str) -> list[str]:
    """The run orchestrations in the task hub that have not ended, oldest first."""
    import aiohttp

    from shared import names

    query = ",".join(sorted(s for s in RUNTIME_ACTIVE if s != "ContinuedAsNew"))
    async with aiohttp.ClientSession(headers=client_headers()) as http, http.get(
            f"{base_url}/runtime/webhooks/durabletask/instances?runtimeStatus={query}") as resp:
        listed = await resp.json(content_type=None)
    unfinished = [s for s in listed if s.get("name") == names.RUN_ORCHESTRATOR]
    return [s["instanceId"] for s in sorted(unfinished, key=lambda s: s.get("createdTime", ""))]


async def _resume_suspended(engine: OrchestrationControl, run_id: str) -> None:
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


async def _resume(env: Environment, *, live: bool) -> list[dict[str, Any]]:
    from devhost.lock import HostLockError
    from devhost.worker import WorkerLoadError
    from orchestrators.calls import failure_reason

    host = local_host(env, port=0, fire_timers=False)
    try:
        await host.start()  # the host resumes every unfinished instance as it starts
    except WorkerLoadError as exc:
        raise fail(f"the Functions worker refused the app (Azure would load no function): {exc}") from None
    except HostLockError as exc:
        raise fail(f"{exc}; `harvest serve` resumes unfinished runs by itself") from None
    summaries: list[dict[str, Any]] = []
    try:
        engine = host_orchestrations(host.base_url, env.task_hub)
        for run_id in await _unfinished_runs(host.base_url):
            await _resume_suspended(engine, run_id)
            err.print(f"resuming run {run_id}", highlight=False)
            status = await _follow(engine, run_id, live=live)
            if status is not None and isinstance(status.output, dict):
                summaries.append(status.output)
            else:
                ended = status.runtime_status if status else "unknown"
                err.print(f"run {run_id} ended {ended}: {failure_reason(str(status.output if status else None))}",
                          highlight=False, markup=False)
                summaries.append({"run_id": run_id, "status": "failed", "sources": {}})
    finally:
        await stop_host(host)
    return summaries


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(resume)

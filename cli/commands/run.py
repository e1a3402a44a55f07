"""`harvest run`: one ingestion through the local host (the same starter and orchestrators as Azure).

Before it starts anything it looks at the task hub (``cli.hub``): an interrupted run is reported at once
with the two ways on (`harvest resume`, `harvest cancel`) — starting a host would resume it instead; a run
going on in another `harvest run` or `harvest serve` is named with the commands that follow or stop it; a
`harvest serve` with no run going gets the run handed to it."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from cli.commands.common import (
    EXIT,
    environment,
    err,
    exit_now,
    fail,
    local_host,
    out,
    run_interruptible,
    stop_host,
    warn_unrunnable,
)
from cli.commands.follow import HostLost, ended_summary, follow, lost_message
from cli.render import print_summary
from devhost.environment import Environment
from devhost.keys import client_headers

SERVE = "harvest serve"


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
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log retries and failures; lease details.")]
    = False,
) -> None:
    """Run one ingestion through the local host and print its summary."""
    # the summary says what failed, one line a source: retries and failures are logged only with -v
    env = environment(manifest, check_manifest=True, verbose=verbose, log_level=logging.ERROR)
    warn_unrunnable(list(source) if source else None)
    body: dict[str, Any] = {"full_refresh": full_refresh or reembed, "dry_run": dry_run, "reembed": reembed}
    if source:
        body["sources"] = list(source)
    where: dict[str, str] = {}  # run_id (once started), host (when an already running host runs it)
    try:
        summary = run_interruptible(
            _run(env, body, live=not as_json and sys.stderr.isatty(), where=where, verbose=verbose),
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
    index = (f" Search index: {totals.get('index_upserted', 0)} vectors upserted, {totals.get('index_deleted', 0)} "
             "deleted.")
    return f"corpus: {counts}.{index} Try: harvest query \"...\""


def unfinished(where: dict[str, str]) -> str:
    """What an interrupted `harvest run` tells the user."""
    run_id = where.get("run_id")
    if run_id is None:
        return "interrupted before a run started"
    if "host" in where:
        return (f"stopped following run {run_id}; it goes on in {where['host']} "
                f"(`harvest status {run_id} --watch` follows it)")
    return f"run {run_id} is unfinished; `harvest resume` continues it, `harvest cancel {run_id}` abandons it"


async def _run(env: Environment, body: dict[str, Any], *, live: bool, where: dict[str, str],
               verbose: bool) -> dict[str, Any]:
    from cli.hub import Hub, active_run_message, inspect_hub, wait_for_release
    from devhost.lock import HostLockError, held_message
    from devhost.worker import WorkerLoadError

    def refuse(hub: Any) -> typer.Exit:
        holder = hub.holder
        detail = held_message(env.task_hub, holder.hostname, holder.pid) if holder else None
        if hub.run_id is not None:
            return fail(active_run_message(hub, verbose=verbose, lease_detail=detail))
        return fail(f"the task hub is in use by {holder.describe()}: try again when it ends"
                    + (f"\n  ({detail})" if verbose and detail else ""))

    hub = await inspect_hub(env.connection_string, env.task_hub)
    if hub.run_id is None and hub.holder is not None and not _serves(hub.holder):
        hub = await wait_for_release(env.connection_string, env.task_hub, hub.holder,
                                     lambda line: err.print(line, highlight=False))
    if hub.run_id is not None:
        raise refuse(hub)
    if hub.holder is not None:
        if _serves(hub.holder):  # `harvest serve` runs this task hub: hand the run over
            return await _through(env, str(hub.holder.url), hub.holder.describe(), body, live=live, where=where)
        raise refuse(hub)

    host = local_host(env, port=0, fire_timers=False, role="harvest run")
    try:
        await host.start()
    except WorkerLoadError as exc:
        raise fail(f"the Functions worker refused the app (Azure would load no function): {exc}") from None
    except HostLockError as exc:  # taken since we looked
        hub = await inspect_hub(env.connection_string, env.task_hub)
        if hub.run_id is None and exc.holder and _serves(exc.holder):
            return await _through(env, str(exc.holder.url), exc.holder.describe(), body, live=live, where=where)
        raise refuse(Hub(hub.holder or exc.holder, hub.run_id, hub.view)) from None
    from cli.instances import HostInstances

    lost = False
    try:
        run_id = await _start(env, host.base_url, body, verbose=verbose)
        where["run_id"] = run_id
        if not live:
            err.print(f"run {run_id} started (`harvest status {run_id} --watch` follows it from another terminal)",
                      highlight=False, soft_wrap=True)
        try:
            status = await follow(HostInstances(host), run_id, live=live,
                                  lease_lost=host.lease_lost)
        except HostLost:
            lost = True
    finally:
        await stop_host(host, timeout=5.0 if lost else 20.0)
    if lost:  # activities may still be inside worker threads: leave at once, the run is resumable
        env.close()
        message = lost_message("harvest run", run_id, host.lease_lost_why)
        err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
        exit_now(1)
    return await ended_summary(status, run_id)


def _serves(holder: Any) -> bool:
    """A host that serves the task hub for others (`harvest serve`, or one that does not say what it is),
    as opposed to another command's own host, which stops when that command ends."""
    return bool(holder.url) and holder.role in (None, SERVE)


async def _start(env: Environment, base_url: str, body: dict[str, Any], *, verbose: bool) -> str:
    """POST /api/runs to the host at ``base_url``: the run id, or exit 2 with the reason."""
    import aiohttp

    from cli.hub import active_run_message, inspect_hub

    async with aiohttp.ClientSession(headers=client_headers()) as http, http.post(
            f"{base_url}/api/runs", json=body, headers={"X-Harvest-Trigger": "cli"}) as resp:
        started = await resp.json(content_type=None)
        status = resp.status
    if status == 409:  # another run took the place meanwhile: say which, from storage (not the host's URL)
        hub = await inspect_hub(env.connection_string, env.task_hub)
        if hub.run_id is not None:
            raise fail(active_run_message(hub, verbose=verbose))
    if status != 202:
        details = "; ".join(f"{d['field']}: {d['message']}" for d in started.get("details", [])
                            if d.get("field") != "statusQueryGetUri")
        raise fail(f"{started.get('error', status)}" + (f" — {details}" if details else ""))
    return str(started["run_id"])


async def _through(env: Environment, url: str, who: str, body: dict[str, Any], *, live: bool,
                   where: dict[str, str]) -> dict[str, Any]:
    """Hand the run to the `harvest serve` holding the task hub, and follow it from storage."""
    from cli.instances import StoredInstances
    from devhost.store import InstanceStore

    err.print(f"{who} serves this task hub: the run goes to it", highlight=False)
    where["host"] = who
    run_id = await _start(env, url, body, verbose=False)
    where["run_id"] = run_id
    if not live:
        err.print(f"run {run_id} started; status: {url}/api/runs/{run_id}", highlight=False, soft_wrap=True)
    store = InstanceStore(env.connection_string, env.task_hub)
    try:
        await store.open()
        status = await follow(StoredInstances(store), run_id, live=live)
    finally:
        await store.close()
    return await ended_summary(status, run_id)


def register(app: typer.Typer) -> None:
    app.command()(run)

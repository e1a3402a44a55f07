"""`harvest run`: one ingestion through the local host (the same starter and orchestrators as Azure)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.live import Live

from devhost.commands.common import (
    EXIT,
    TERMINAL,
    close_sdk_session,
    environment,
    err,
    fail,
    local_host,
    out,
    run_interruptible,
    stop_host,
)
from devhost.durable_api import RPC_PREFIX
from devhost.environment import Environment
from devhost.keys import client_headers
from devhost.progress import print_summary, progress_line, progress_table


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
    env = environment(manifest, check_manifest=True, verbose=verbose, log_level=logging.WARNING)
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
        totals = summary.get("totals", {})
        err.print(f"corpus: {totals.get('added', 0)} added, {totals.get('updated', 0)} updated, "
                  f"{totals.get('deleted', 0)} deleted; {totals.get('chunks_embedded', 0)} chunks embedded, "
                  f"{totals.get('chunks_reused', 0)} reused. Try: harvest query \"...\"", highlight=False)
    raise typer.Exit(EXIT.get(summary.get("status", "failed"), 1))


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

    host = local_host(env, port=0, fire_timers=False)
    base_url = None
    try:
        await host.start()
        base_url = host.base_url
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
            # the CLI hosts (or shares) the local host: it follows the orchestration itself (on the extension's
            # local RPC endpoint, which needs no key), not the API view
            status_url = f"{base_url}{RPC_PREFIX}/instances/{quote(started['run_id'], safe='')}"
            where["run_id"] = started["run_id"]
            if not live:
                err.print(f"run {started['run_id']} started; status: {started['statusQueryGetUri']}",
                          highlight=False, soft_wrap=True)
            status = await _follow(http, base_url, status_url, live=live)
    finally:
        if host is not None:
            await stop_host(host)
        else:
            await close_sdk_session()
    if status.get("runtimeStatus") != "Completed" or not isinstance(status.get("output"), dict):
        from orchestrators.calls import failure_reason

        raise fail(f"run {started['run_id']} ended {status.get('runtimeStatus')}: "
                   f"{failure_reason(str(status.get('output')))}", 1)
    return status["output"]


async def _answers(base_url: str) -> bool:
    import aiohttp

    try:
        async with aiohttp.ClientSession(headers=client_headers()) as http, http.get(
            f"{base_url}/runtime/webhooks/durabletask/instances/", timeout=aiohttp.ClientTimeout(total=5)
        ) as resp:
            return resp.status < 500
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _follow(http: Any, base_url: str, status_url: str, *, live: bool) -> dict[str, Any]:
    async def poll() -> dict[str, Any]:
        async with http.get(status_url) as resp:
            return await resp.json(content_type=None)

    async def details(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        custom = status.get("customStatus") or {}
        for sid, info in (custom.get("sources") or {}).items() if isinstance(custom, dict) else []:
            if info.get("status") == "running":
                iid = quote(f"{status['instanceId']}:{sid}", safe="")
                async with http.get(f"{base_url}/runtime/webhooks/durabletask/instances/{iid}") as resp:
                    if resp.status in (200, 202):
                        out[sid] = (await resp.json(content_type=None)).get("customStatus") or {}
        return out

    status = await poll()
    if not live:  # not a terminal: a plain line whenever the progress changes
        shown = ""
        while status.get("runtimeStatus") not in TERMINAL:
            if (line := progress_line(status)) != shown:
                err.print(line, highlight=False, markup=False, soft_wrap=True)
                shown = line
            await asyncio.sleep(0.5)
            status = await poll()
        return status
    with Live(progress_table(status, {}), console=err, refresh_per_second=4, transient=True) as view:
        while status.get("runtimeStatus") not in TERMINAL:
            await asyncio.sleep(0.5)
            status = await poll()
            view.update(progress_table(status, await details(status)))
    return status




def resume(
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summaries as a JSON list on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Continue every unfinished run in the task hub (after a crash or Ctrl-C) and wait for each to end."""
    env = environment(verbose=verbose, log_level=logging.WARNING)
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


async def _resume(env: Environment, *, live: bool) -> list[dict[str, Any]]:
    import aiohttp

    from devhost.lock import HostLockError
    from orchestrators.calls import failure_reason
    from shared import names

    host = local_host(env, port=0, fire_timers=False)
    try:
        await host.start()  # the host resumes every unfinished instance as it starts
    except HostLockError as exc:
        raise fail(f"{exc}; `harvest serve` resumes unfinished runs by itself") from None
    summaries: list[dict[str, Any]] = []
    try:
        api = f"{host.base_url}/runtime/webhooks/durabletask/instances"
        async with aiohttp.ClientSession(headers=client_headers()) as http:
            async with http.get(f"{api}?runtimeStatus=Pending,Running,Suspended") as resp:
                listed = await resp.json(content_type=None)
            unfinished = [s for s in listed if s.get("name") == names.RUN_ORCHESTRATOR]
            for item in sorted(unfinished, key=lambda s: s.get("createdTime", "")):
                iid = quote(item["instanceId"], safe="")
                if item.get("runtimeStatus") == "Suspended":
                    async with http.post(f"{api}/{iid}/resume?reason=harvest+resume"):
                        pass
                err.print(f"resuming run {item['instanceId']}", highlight=False)
                status = await _follow(http, host.base_url, f"{api}/{iid}", live=live)
                if isinstance(status.get("output"), dict):
                    summaries.append(status["output"])
                else:
                    err.print(f"run {item['instanceId']} ended {status.get('runtimeStatus')}: "
                              f"{failure_reason(str(status.get('output')))}", highlight=False, markup=False)
                    summaries.append({"run_id": item["instanceId"], "status": "failed", "sources": {}})
    finally:
        await stop_host(host)
    return summaries


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(resume)

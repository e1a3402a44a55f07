"""The ``harvest`` command: run, serve, status, export and query, all against the same Functions app.

``harvest run`` starts the local host in this process (on a free port), POSTs ``/api/runs`` to it —
the same starter and orchestrators Azure runs — follows the status-query URL, and prints a summary.
Exit status: 0 completed, 1 failed, 3 partial, 2 bad input (settings, manifest, request).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.live import Live

from devhost.environment import AzuriteError, Environment, prepare
from devhost.progress import error_lines, progress_table, summary_table
from shared.errors import ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Harvest: keep a search corpus fresh.")
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)
EXIT = {"completed": 0, "failed": 1, "partial": 3, "cancelled": 1}
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _environment(manifest: str | None = None, *, check_manifest: bool = False) -> Environment:
    """Settings, manifest and storage ready — or a clear message naming what is wrong, and exit 2."""
    from shared.pipeline.context import manifest_for
    from shared.settings import load_settings

    try:
        env = prepare(manifest)
        settings = load_settings()
        if check_manifest:
            manifest_for(settings)
    except AzuriteError as exc:
        raise _fail(str(exc)) from None
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    return env


def _logging(verbose: bool, default: int = logging.WARNING) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else default, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "azure.core.pipeline.policies.http_logging_policy", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _host(env: Environment, *, port: int, host: str = "127.0.0.1", fire_timers: bool):  # type: ignore[no-untyped-def]
    from devhost.host import LocalHost
    from function_app import app as functions

    return LocalHost(functions, connection_string=env.connection_string, task_hub=env.task_hub, host=host,
                     port=port, max_concurrent_activities=env.max_activities,
                     max_concurrent_orchestrations=env.max_orchestrations, fire_timers=fire_timers)


@app.command()
def run(
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source id (repeatable).")
    ] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Re-read everything.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")] = False,
    manifest: Annotated[str | None, typer.Option("--manifest", "-m", help="Source manifest file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run one ingestion through the local host and print its summary."""
    _logging(verbose)
    env = _environment(manifest, check_manifest=True)
    body: dict[str, Any] = {"full_refresh": full_refresh, "dry_run": dry_run}
    if source:
        body["sources"] = list(source)
    try:
        summary = asyncio.run(_run(env, body, live=not as_json and sys.stderr.isatty()))
    finally:
        env.close()
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        err.print(summary_table(summary))
        for line in error_lines(summary):
            err.print(f"  [yellow]{line}[/yellow]", highlight=False)
        totals = summary.get("totals", {})
        err.print(f"corpus: {totals.get('added', 0)} added, {totals.get('updated', 0)} updated, "
                  f"{totals.get('deleted', 0)} deleted; {totals.get('chunks_embedded', 0)} chunks embedded, "
                  f"{totals.get('chunks_reused', 0)} reused. Try: harvest query \"...\"", highlight=False)
    raise typer.Exit(EXIT.get(summary.get("status", "failed"), 1))


async def _run(env: Environment, body: dict[str, Any], *, live: bool) -> dict[str, Any]:
    import aiohttp

    from devhost.lock import HostLockError

    host = _host(env, port=0, fire_timers=False)
    base_url = None
    try:
        await host.start()
        base_url = host.base_url
    except HostLockError as exc:
        # `harvest serve` already runs this task hub: hand the run to it rather than racing it.
        base_url = os.environ.get("HARVEST_HOST_URL", "http://127.0.0.1:7071").rstrip("/")
        if not await _answers(base_url):
            raise _fail(f"{exc}; and no host answers at {base_url} (set HARVEST_HOST_URL)") from None
        err.print(f"a local host already serves this task hub; running through it at {base_url}",
                  highlight=False)
        host = None
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base_url}/api/runs", json=body,
                                 headers={"X-Harvest-Trigger": "cli"}) as resp:
                started = await resp.json(content_type=None)
                if resp.status != 202:
                    details = "; ".join(f"{d['field']}: {d['message']}" for d in started.get("details", []))
                    raise _fail(f"{started.get('error', resp.status)}" + (f" — {details}" if details else ""))
            status_url = started["statusQueryGetUri"]
            if not live:
                err.print(f"run {started['run_id']} started; status: {status_url}", highlight=False,
                          soft_wrap=True)
            status = await _follow(http, base_url, status_url, live=live)
    finally:
        if host is not None:
            await host.stop()
        await _close_sdk_session()
    if status.get("runtimeStatus") != "Completed" or not isinstance(status.get("output"), dict):
        raise _fail(f"run {started['run_id']} ended {status.get('runtimeStatus')}: {status.get('output')}", 1)
    return status["output"]


async def _answers(base_url: str) -> bool:
    import aiohttp

    try:
        async with aiohttp.ClientSession() as http, http.get(
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
    if not live:
        while status.get("runtimeStatus") not in TERMINAL:
            await asyncio.sleep(0.5)
            status = await poll()
        return status
    with Live(progress_table(status, {}), console=err, refresh_per_second=4, transient=True) as view:
        while status.get("runtimeStatus") not in TERMINAL:
            await asyncio.sleep(0.5)
            status = await poll()
            view.update(progress_table(status, await details(status)))
    return status


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (func start uses 7071).")] = 7071,
    no_timers: Annotated[bool, typer.Option("--no-timers", help="Do not fire timer triggers.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve the Functions app and the Durable HTTP API until interrupted; resumes unfinished runs."""
    _logging(verbose, logging.INFO)
    env = _environment(check_manifest=True)
    try:
        asyncio.run(_serve(env, host, port, fire_timers=not no_timers))
    finally:
        env.close()


async def _serve(env: Environment, host: str, port: int, *, fire_timers: bool) -> None:
    local = _host(env, port=port, host=host, fire_timers=fire_timers)
    await local.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    err.print(f"Harvest local host on {local.base_url}\n"
              f"  POST {local.base_url}/api/runs            start a run\n"
              f"  GET  {local.base_url}/runtime/webhooks/durabletask/instances/<id>   status\n"
              "Ctrl-C to stop.", highlight=False)
    try:
        await stop.wait()
    finally:
        await local.stop()
        await _close_sdk_session()


async def _close_sdk_session() -> None:
    """The Durable SDK keeps one module-global aiohttp session; close it before the loop ends."""
    from azure.durable_functions.models.utils import http_utils

    await http_utils._close_session()


@app.command()
def status(run_id: Annotated[str, typer.Argument(help="The run id (e.g. run-20261123T101500Z-ab12cd).")],
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The run's status and per-source counts, from its run record in Blob storage."""
    env = _environment()
    try:
        summary = asyncio.run(_read_run(run_id))
    finally:
        env.close()
    if summary is None:
        raise _fail(f"no run record for {run_id!r}", 1)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        err.print(summary_table(summary))
        for line in error_lines(summary):
            err.print(f"  {line}", highlight=False)


async def _read_run(run_id: str) -> dict[str, Any] | None:
    from shared.pipeline.context import open_context
    from shared.storage.records import read_run

    async with open_context() as ctx:
        found = await read_run(ctx.store, run_id)
    return None if found is None else found.model_dump(mode="json")


@app.command()
def export(out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
           source: Annotated[str | None, typer.Option("--source", "-s")] = None) -> None:
    """The current corpus as JSON Lines, one chunk a line (current, non-deleted versions only)."""
    env = _environment()
    try:
        count = asyncio.run(_export(out, source))
    finally:
        env.close()
    err.print(f"exported {count} chunks" + (f" to {out}" if out else ""), highlight=False)


async def _export(out: Path | None, source: str | None) -> int:
    from shared.corpus import iter_chunks
    from shared.pipeline.context import open_context

    count = 0
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        async with open_context() as ctx:
            async for row in iter_chunks(ctx.store, source):
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    finally:
        if out:
            stream.close()
    return count


@app.command()
def query(text: Annotated[str, typer.Argument(help="What to look for.")],
          k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many chunks.")] = 5,
          as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Nearest chunks to TEXT by cosine similarity over the current corpus."""
    env = _environment()
    try:
        hits = asyncio.run(_query(text, k))
    finally:
        env.close()
    rows = [{"score": round(h.score, 4), "source_id": h.chunk["source_id"], "doc_id": h.chunk["doc_id"],
             "url": h.chunk["url"], "title": h.chunk["title"], "ordinal": h.chunk["ordinal"],
             "chunk_id": h.chunk["chunk_id"], "snippet": " ".join(h.chunk["text"].split())[:240]}
            for h in hits]
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        err.print("no chunks in the corpus yet: run `harvest run` first")
        return
    for i, row in enumerate(rows, 1):
        print(f"{i}. {row['score']:.3f}  {row['title'] or row['doc_id']}  [{row['source_id']}]  {row['url']}")
        print(f"   {row['snippet']}")


async def _query(text: str, k: int) -> list[Any]:
    from shared.corpus import search
    from shared.pipeline.context import open_context

    async with open_context() as ctx:
        return await search(ctx.store, ctx.embedder, text, k)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

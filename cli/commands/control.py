"""`harvest cancel [RUN_ID]`, `harvest suspend [RUN_ID]`, `harvest purge RUN_ID`: the CLI twins of
``POST /api/runs/{id}/cancel`` and ``/suspend`` and ``DELETE /api/runs/{id}`` (`harvest resume` is the twin
of ``/resume``). Without RUN_ID, cancel and suspend act on the active run.

Whoever runs the task hub does the work: a live `harvest serve` (or `harvest run`) gets the HTTP request
(with the master key when keys are configured); with no live host, the command starts one that resumes
nothing and applies the operation through the same service (``shared.runs.operations``): cancel fences
the run, records it cancelled and frees its place and sources at once, and queues the terminations, which
the next host to start carries out before anything else of that run runs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer

from cli.commands.common import checked_run_id, environment, fail, local_host, run_interruptible, stop_host
from devhost.environment import Environment
from devhost.lock import Holder

VERBS = {"cancel": "cancelled", "suspend": "suspended", "resume": "resumed"}


def cancel(
    run_id: Annotated[str | None, typer.Argument(help="The run (default: the active run).")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Recorded with the run.")] = None,
) -> None:
    """Cancel a run: it fetches and commits nothing more, its sources and its place are freed at once."""
    _control("cancel", run_id, reason)


def suspend(
    run_id: Annotated[str | None, typer.Argument(help="The run (default: the active run).")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Recorded with the run.")] = None,
) -> None:
    """Suspend a run and its sources; `harvest resume RUN_ID` continues it."""
    _control("suspend", run_id, reason)


def purge(run_id: Annotated[str, typer.Argument(help="A finished run.")]) -> None:
    """Delete everything kept about a finished run: record, report, staged data, index entry, history."""
    checked_run_id(run_id)
    env = environment(log_level=logging.ERROR)
    try:
        message = run_interruptible(_purge(env, run_id), env, lambda: "interrupted: `harvest purge` again finishes it")
    finally:
        env.close()
    print(message)


def _control(operation: str, run_id: str | None, reason: str | None) -> None:
    if run_id is not None:
        checked_run_id(run_id)
    env = environment(log_level=logging.ERROR)
    try:
        message = run_interruptible(_apply(env, operation, run_id, reason or f"harvest {operation}"), env,
                                    lambda: f"interrupted: `harvest {operation}` again finishes it")
    finally:
        env.close()
    print(message)


async def through_host(holder: Holder, operation: str, run_id: str, reason: str) -> dict[str, Any]:
    """The operation as an HTTP request to the live host holding the task hub; its JSON answer, or exit 1
    with the host's reason."""
    import aiohttp

    from devhost.keys import client_headers

    method, path = ("DELETE", f"/api/runs/{run_id}") if operation == "purge" else \
        ("POST", f"/api/runs/{run_id}/{operation}")
    try:
        async with aiohttp.ClientSession(headers=client_headers()) as http, http.request(
                method, f"{holder.url}{path}", json=None if operation == "purge" else {"reason": reason},
                timeout=aiohttp.ClientTimeout(total=60)) as resp:
            status = resp.status
            body = await resp.json(content_type=None) if resp.content_length != 0 else {}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise fail(f"{holder.describe()} did not answer ({exc or type(exc).__name__})", 1) from None
    if status == 401:
        raise fail(f"{holder.describe()} checks keys: set HARVEST_DEVHOST_MASTER_KEY to its master key", 2)
    if status >= 300:
        details = "; ".join(str(d.get("message")) for d in (body or {}).get("details", []) if d.get("message"))
        raise fail(f"{(body or {}).get('error', f'HTTP {status}')}" + (f" ({details})" if details else ""), 1)
    return body if isinstance(body, dict) else {}


async def _target(env: Environment, operation: str, run_id: str | None) -> tuple[str, Holder | None]:
    from cli.hub import inspect_hub

    hub = await inspect_hub(env.connection_string, env.task_hub)
    if run_id is None:
        if hub.run_id is None:
            raise fail(f"no active run to {operation} (`harvest runs` lists the runs)", 1)
        run_id = hub.run_id
    return run_id, hub.holder


async def _apply(env: Environment, operation: str, run_id: str | None, reason: str) -> str:
    from shared.runs import operations

    target, holder = await _target(env, operation, run_id)
    if holder is not None:
        if not holder.url:
            raise fail(f"{holder.describe()} runs this task hub and does not say where it serves: use its HTTP API "
                       f"(POST /api/runs/{target}/{operation})", 1)
        answer = await through_host(holder, operation, target, reason)
        released = answer.get("released_sources") or []
        return _said(operation, target, str(answer.get("status", VERBS[operation])), released, queued=False)
    done = await _on_idle_host(env, operation, target,
                               lambda store, instances: operations.control(store, instances, target, operation,
                                                                           reason))
    return _said(operation, target, done.status, done.released_sources, queued=True)


def _said(operation: str, run_id: str, status: str, released: list[str], *, queued: bool) -> str:
    line = f"run {run_id} {VERBS[operation]} (status {status})"
    if operation == "cancel":
        if released:
            line += f"; sources released: {', '.join(released)}"
        line += "; the next `harvest run` can start now"
        if queued:
            line += " (its orchestrations end when a host next starts; they do nothing more meanwhile)"
    elif operation == "suspend":
        line += f"; `harvest resume {run_id}` continues it"
    return line


async def _on_idle_host[T](env: Environment, operation: str, run_id: str,
                           apply: Callable[[Any, Any], Awaitable[T]]) -> T:
    """``apply(store, instances)`` through a host started for it that resumes nothing, with the service's
    refusals said in one line (no such run; a run in a state the operation does not apply to)."""
    from cli.instances import HostInstances
    from shared.pipeline.context import open_context
    from shared.runs import operations

    host = local_host(env, port=0, fire_timers=False, role=f"harvest {operation}")
    await _start_idle(host)
    try:
        async with open_context() as ctx:
            try:
                return await apply(ctx.store, HostInstances(host))
            except operations.RunNotFound:
                raise fail(f"no run {run_id!r} (`harvest runs` lists the runs)", 1) from None
            except operations.RunConflict as exc:
                raise fail(f"{exc.message} ({exc.hint})", 1) from None
    finally:
        await stop_host(host)


async def _start_idle(host: Any) -> None:
    """Start a host that resumes nothing (it only carries the operation), or exit naming who took the hub."""
    from devhost.lock import HostLockError

    try:
        await host.start(resume=False)
    except HostLockError as exc:
        who = exc.holder.describe() if exc.holder else "another host"
        raise fail(f"{who} took the task hub meanwhile: run the command again (it goes to that host)", 1) from None


async def _purge(env: Environment, run_id: str) -> str:
    from shared.runs import operations

    _, holder = await _target(env, "purge", run_id)
    if holder is not None and holder.url:
        purged = (await through_host(holder, "purge", run_id, "harvest purge")).get("purged") or {}
        return f"run {run_id} purged ({purged.get('blobs', 0)} blob(s), {purged.get('instances', 0)} orchestration(s))"
    result = await _on_idle_host(env, "purge", run_id,
                                 lambda store, instances: operations.purge(store, instances, run_id))
    return f"run {run_id} purged ({result.blobs} blob(s), {result.instances} orchestration(s))"


def register(app: typer.Typer) -> None:
    app.command()(cancel)
    app.command()(suspend)
    app.command()(purge)


__all__ = ["cancel", "purge", "register", "suspend", "through_host"]

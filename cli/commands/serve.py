"""`harvest serve`: the local Functions host, until interrupted; resumes unfinished runs on start."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer

from cli.commands.common import (
    environment,
    err,
    exit_now,
    fail,
    local_host,
    run_interruptible,
    stop_host,
)
from devhost.environment import Environment


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (func start uses 7071).")] = 7071,
    no_timers: Annotated[bool, typer.Option("--no-timers", help="Do not fire timer triggers.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve the Functions app and the Durable HTTP API until interrupted; resumes unfinished runs."""
    env = environment(check_manifest=True, verbose=verbose, log_level=logging.INFO)
    try:
        run_interruptible(_serve(env, host, port, fire_timers=not no_timers), env, lambda: STOPPED)
    finally:
        env.close()
    exit_now(0)  # activities still inside a worker thread are resumed by the next host, not waited for


STOPPED = "harvest serve stopped; unfinished runs go on at the next `harvest serve` or `harvest resume`"


async def _serve(env: Environment, host: str, port: int, *, fire_timers: bool) -> None:
    from devhost.lock import HostLockError
    from devhost.worker import WorkerLoadError

    local = local_host(env, port=port, host=host, fire_timers=fire_timers, role="harvest serve")
    try:
        await local.start()
    except WorkerLoadError as exc:
        raise fail(f"the Functions worker refused the app (Azure would load no function): {exc}") from None
    except HostLockError as exc:
        raise fail(str(exc)) from None
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)  # Ctrl-C: run_interruptible
    err.print(f"Harvest local host on {local.base_url}\n"
              f"  POST {local.base_url}/api/runs            start a run (202: its status URL in Location)\n"
              f"  GET  {local.base_url}/api/runs/<run_id>   its status: Durable's schema, 202 until it ends\n"
              f"  GET  {local.base_url}/api/openapi.json    every route\n"
              "Ctrl-C to stop.", highlight=False)
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(local.lease_lost.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await stop_host(local)
    if local.lease_lost.is_set():
        raise fail("this host lost its lease on the task hub (paused too long, or storage unreachable, and "
                   "another host may have taken over): it stopped; start `harvest serve` again", 1)
    err.print(STOPPED, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(serve)

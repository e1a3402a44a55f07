"""`harvest serve`: the local Functions host, until interrupted; resumes unfinished runs on start."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer

from devhost.commands.common import (
    close_sdk_session,
    environment,
    err,
    local_host,
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
        asyncio.run(_serve(env, host, port, fire_timers=not no_timers))
    finally:
        env.close()


async def _serve(env: Environment, host: str, port: int, *, fire_timers: bool) -> None:
    local = local_host(env, port=port, host=host, fire_timers=fire_timers)
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
        await close_sdk_session()


def register(app: typer.Typer) -> None:
    app.command()(serve)

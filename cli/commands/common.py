"""What every ``harvest`` command shares: the console, errors, settings/storage set-up, the local host."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from devhost.environment import AzuriteError, Environment, prepare
from shared.errors import ConfigError
from shared.names import RUN_ID, SOURCE_ID

err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)  # progress, messages, errors
out = Console(width=None if sys.stdout.isatty() else 140)  # output: tables (`harvest runs > f` keeps them)
EXIT = {"completed": 0, "failed": 1, "partial": 3, "cancelled": 1}


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` (the message as it is: no markup, so ``[a-z]`` in it stays) and the exit."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def config_failure(exc: ConfigError) -> typer.Exit:
    """A bad setting or manifest: one line when the problem is the file itself, else every problem, one a
    line, under the message (all at once, so one edit can fix them all). Exit 2."""
    problems = exc.problems
    if not problems or all(p["field"] == "manifest" for p in problems):
        return fail(str(exc).splitlines()[0])
    return fail(str(exc))


def checked_run_id(run_id: str) -> str:
    """The run id, if it is one the API would accept (the same pattern); else exit 2 with one line."""
    if not RUN_ID.fullmatch(run_id):
        raise fail(f"{run_id!r} is not a run id (like run-20261123T101500Z-ab12cd: letters, digits, '.', '_', "
                   "'-'; see `harvest runs`)")
    return run_id


def checked_source_id(source_id: str, where: str = "--source") -> str:
    """The source id, if it is one the API would accept (the same pattern); else exit 2 naming ``where``."""
    if not SOURCE_ID.fullmatch(source_id):
        raise fail(f"{where}: {source_id!r} is not a source id (lowercase letters, digits, '_', '-')")
    return source_id


def environment(manifest: str | None = None, *, check_manifest: bool = False,
                log_level: int | None = None, verbose: bool = False) -> Environment:
    """Settings, manifest and storage ready — or a clear message naming what is wrong, and exit 2.

    Settings are read once, after local.settings.json and the CLI's options are applied; then the manifest is
    checked and logging set up (``log_level``); storage (Azurite) is started only when all of that is valid.
    """
    from shared.pipeline.context import manifest_for
    from shared.settings import get_settings

    def validate() -> None:
        get_settings.cache_clear()  # nothing may have read them before the options were applied
        settings = get_settings()
        if check_manifest:
            try:
                manifest_for(settings)
            except ConfigError as exc:
                if exc.problems and any(p["field"] != "manifest" for p in exc.problems):
                    from shared.config.manifest import load_manifest

                    # every problem at once: what the run would refuse too (a missing folder), same format
                    load_manifest(settings.manifest_path(), check_build=True)
                raise
        if log_level is not None or verbose:
            setup_logging(verbose, log_level if log_level is not None else logging.WARNING)

    try:
        return prepare(manifest, validate=validate)
    except AzuriteError as exc:
        raise fail(str(exc)) from None
    except ConfigError as exc:
        raise config_failure(exc) from None


def warn_unrunnable(selected: list[str] | None) -> None:
    """Warn about the sources this run covers that it will fail at once (a folder that does not exist, an
    address the outbound guard refuses): they fail on their own and the others run, as in Azure."""
    from shared.config.manifest_checks import run_problems
    from shared.pipeline.context import manifest_for
    from shared.settings import get_settings

    manifest = manifest_for(get_settings())
    labels = {spec.id: f"sources[{i}] ({spec.id})" for i, spec in enumerate(manifest.sources)}
    try:
        covered = manifest.select(selected)
    except ConfigError:
        return  # unknown ids: the starter answers with them
    scope = replace(manifest, sources=covered)
    for problem in run_problems(scope, labels):
        err.print(f"[yellow]warning:[/yellow] {escape(problem['field'])}: {escape(problem['message'])} (this "
                  "source will fail; the others run)", highlight=False, soft_wrap=True)


def with_storage[T](work: Callable[[], Coroutine[Any, Any, T]], manifest: str | None = None, *,
                    check_manifest: bool = False) -> T:
    """``work()`` run once settings, manifest and storage are ready (``environment``); storage the command
    started (Azurite) is stopped afterwards."""
    env = environment(manifest, check_manifest=check_manifest)
    try:
        return asyncio.run(work())
    finally:
        env.close()


def setup_logging(verbose: bool, default: int = logging.WARNING) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else default, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "azure.core.pipeline.policies.http_logging_policy", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from shared.logs import configure_logging

    configure_logging(logging.DEBUG if verbose else default, "text")  # run/source ids on every line


def local_host(env: Environment, *, port: int, host: str = "127.0.0.1", fire_timers: bool,  # type: ignore[no-untyped-def]
               role: str | None = None):
    from devhost.environment import REPO_ROOT
    from devhost.host import LocalHost
    from devhost.keys import HostKeys

    return LocalHost(REPO_ROOT / "function_app.py", connection_string=env.connection_string, task_hub=env.task_hub,
                     host=host, port=port, max_concurrent_activities=env.max_activities,
                     max_concurrent_orchestrations=env.max_orchestrations, fire_timers=fire_timers,
                     function_timeout=env.function_timeout, keys=HostKeys.from_env(), role=role,
                     durable_checks=env.durable_checks)


async def stop_host(host: Any, timeout: float = 20.0, quiet_for: float = 2.0) -> None:
    """Stop a local host (bounded: its lease runs out by itself if storage does not answer), and close the
    Durable SDK's HTTP session. Past ``quiet_for`` seconds it says what it waits for."""
    stopping = asyncio.ensure_future(host.stop())
    try:
        done, _ = await asyncio.wait({stopping}, timeout=quiet_for)
        if not done:
            err.print(f"stopping the local host: waiting up to {timeout - quiet_for:.0f} s more for it to let go "
                      "of the task hub ...", highlight=False)
            async with asyncio.timeout(timeout - quiet_for):
                await asyncio.shield(stopping)
        stopping.result()
    except TimeoutError:
        err.print(f"the local host did not stop within {timeout:.0f} s; its lease runs out by itself",
                  highlight=False)
    finally:
        await close_sdk_session()


async def close_sdk_session() -> None:
    """The Durable SDK keeps one module-global aiohttp session; close it before the loop ends."""
    from azure.durable_functions.models.utils import http_utils

    await http_utils._close_session()


def exit_now(code: int) -> NoReturn:
    """Flush and leave at once: no waiting for worker threads still inside an activity (the durable state
    makes the work resumable), no traceback."""
    with contextlib.suppress(Exception):
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _exit_on_second_interrupt(signum: int, frame: object) -> None:
    exit_now(130)


def run_interruptible[T](work: Coroutine[Any, Any, T], env: Environment, farewell: Callable[[], str]) -> T:
    """``asyncio.run(work)``, with Ctrl-C handled the way a user expects: the first one cancels ``work``
    (its ``finally`` blocks stop the local host), stops Azurite if this command started it, prints
    ``farewell()`` and exits 130; a second one exits 130 at once. Never a traceback."""

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(work)
        interrupted = False

        def on_interrupt() -> None:
            nonlocal interrupted
            interrupted = True
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, _exit_on_second_interrupt)
            task.cancel()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        try:
            return await task
        except asyncio.CancelledError:
            if not interrupted:
                raise
        except BaseException:
            if not interrupted:
                raise
        finally:
            if not interrupted:  # the Blob clients the command opened, closed on this loop (no "Unclosed" noise)
                from shared.azure_clients import aclose_all

                await aclose_all()
        env.close()
        err.print(farewell(), highlight=False, soft_wrap=True)
        exit_now(130)

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:  # before the loop had its handler
        env.close()
        err.print(farewell(), highlight=False, soft_wrap=True)
        exit_now(130)

"""What every ``harvest`` command shares: the console, errors, settings/storage set-up, the local host."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from devhost.environment import AzuriteError, Environment, prepare
from shared.errors import ConfigError

err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)
EXIT = {"completed": 0, "failed": 1, "partial": 3, "cancelled": 1}
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


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
            manifest_for(settings)
        if log_level is not None or verbose:
            setup_logging(verbose, log_level if log_level is not None else logging.WARNING)

    try:
        return prepare(manifest, validate=validate)
    except AzuriteError as exc:
        raise fail(str(exc)) from None
    except ConfigError as exc:
        raise fail(str(exc)) from None


def setup_logging(verbose: bool, default: int = logging.WARNING) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else default, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "azure.core.pipeline.policies.http_logging_policy", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from shared.logs import configure_logging

    configure_logging(logging.DEBUG if verbose else default, "text")  # run/source ids on every line


def local_host(env: Environment, *, port: int, host: str = "127.0.0.1", fire_timers: bool):  # type: ignore[no-untyped-def]
    from devhost.host import LocalHost
    from function_app import app as functions

    return LocalHost(functions, connection_string=env.connection_string, task_hub=env.task_hub, host=host,
                     port=port, max_concurrent_activities=env.max_activities,
                     max_concurrent_orchestrations=env.max_orchestrations, fire_timers=fire_timers)




async def close_sdk_session() -> None:
    """The Durable SDK keeps one module-global aiohttp session; close it before the loop ends."""
    from azure.durable_functions.models.utils import http_utils

    await http_utils._close_session()

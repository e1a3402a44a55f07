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


def environment(manifest: str | None = None, *, check_manifest: bool = False) -> Environment:
    """Settings, manifest and storage ready — or a clear message naming what is wrong, and exit 2."""
    from shared.pipeline.context import manifest_for
    from shared.settings import load_settings

    try:
        env = prepare(manifest)
        settings = load_settings()
        if check_manifest:
            manifest_for(settings)
    except AzuriteError as exc:
        raise fail(str(exc)) from None
    except ConfigError as exc:
        raise fail(str(exc)) from None
    return env


def setup_logging(verbose: bool, default: int = logging.WARNING) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else default, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure", "azure.core.pipeline.policies.http_logging_policy", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from shared.logs import configure_logging

    configure_logging(logging.DEBUG if verbose else default, "text")  # run/source ids on every line


def local_host(env: Environment, *, port: int, host: str = "127.0.0.1", fire_timers: bool):  # type: ignore[no-untyped-def]
    from devhost.environment import REPO_ROOT
    from devhost.host import LocalHost
    from devhost.keys import HostKeys

    return LocalHost(REPO_ROOT / "function_app.py", connection_string=env.connection_string, task_hub=env.task_hub,
                     host=host, port=port, max_concurrent_activities=env.max_activities,
                     max_concurrent_orchestrations=env.max_orchestrations, fire_timers=fire_timers,
                     function_timeout=env.function_timeout, keys=HostKeys.from_env())


async def close_sdk_session() -> None:
    """The Durable SDK keeps one module-global aiohttp session; close it before the loop ends."""
    from azure.durable_functions.models.utils import http_utils

    await http_utils._close_session()

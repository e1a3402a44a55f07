"""Prepare the environment the CLI runs in: local settings and the CLI's options, then the settings (read
once) and the manifest validated, then logging, and storage (Azurite if needed) ready.

Precedence, as ``func start`` has it: a real environment variable wins over ``local.settings.json``
``Values``; a CLI option (``--manifest``) wins over both. An Azurite the command needs is launched before
the validation and waited for after it (the two overlap); an error in the settings or the manifest stops it
again, so an early error leaves no Azurite behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost.azurite import AzuriteError, launch_azurite, resolve_storage, wait_for_azurite
from devhost.azurite import is_listening as listening
from devhost.settings import apply_local_settings, load_host_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / ".harvest" / "azurite"


@dataclass
class Environment:
    connection_string: str
    task_hub: str
    max_activities: int
    max_orchestrations: int
    function_timeout: str | None = None
    azurite: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # an orchestrator yielding tasks the Durable extension would not start at once: "warn" (log it, naming the
    # orchestrator), "error" (fail it: what the tests use), or "off" (HARVEST_DEVHOST_DURABLE_CHECKS)
    durable_checks: str = "warn"

    def close(self) -> None:
        if self.azurite is not None and self.azurite.poll() is None:
            self.azurite.terminate()
            try:
                self.azurite.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.azurite.kill()


def _endpoint(conn: str) -> tuple[str, int] | None:
    match = re.search(r"BlobEndpoint=https?://([^:/;]+):(\d+)", conn, re.IGNORECASE)
    return (match.group(1), int(match.group(2))) if match else None


def apply_options(manifest: str | None = None) -> None:
    """local.settings.json Values under the environment (the environment wins), then the CLI's options."""
    apply_local_settings(REPO_ROOT)
    if manifest:
        os.environ["HARVEST_MANIFEST"] = str(Path(manifest).resolve())
    conn, _ = resolve_storage(os.environ.get("AzureWebJobsStorage", "UseDevelopmentStorage=true"))
    os.environ["AzureWebJobsStorage"] = conn


def prepare(manifest: str | None = None, *, quiet: bool = False,
            validate: Callable[[], Any] | None = None) -> Environment:
    """Apply local settings and options, run ``validate`` (settings, manifest, logging: it raises on a bad
    one), and make sure storage answers: when it is the emulator and nothing listens, start Azurite with its
    data under ``.harvest/``.

    Azurite is launched first and waited for last, so Node loads it (~0.6 s) while ``validate`` imports and
    checks; if ``validate`` raises, it is stopped again (nothing is left behind). Nothing is said unless the
    wait is long (installing it, or a start past 2 s), and then what is waited for, with its bound.

    Raises ``AzuriteError`` with a readable message when the emulator cannot be started.
    """
    apply_options(manifest)
    conn, is_emulator = resolve_storage(os.environ["AzureWebJobsStorage"])
    endpoint = _endpoint(conn)
    say = None if quiet else _say
    proc = None
    if is_emulator and endpoint and endpoint[0] in ("127.0.0.1", "localhost") and not listening(*endpoint):
        data = Path(os.environ.get("HARVEST_AZURITE_DIR") or DATA_DIR)
        proc = launch_azurite(port=endpoint[1], location=data, repo_root=REPO_ROOT, say=say)
    try:
        if validate is not None:
            validate()
        host = load_host_settings(REPO_ROOT)
        if proc is not None:
            wait_for_azurite(proc, endpoint[1] if endpoint else 10000, say=say)
    except BaseException:
        if proc is not None:
            Environment(connection_string=conn, task_hub="", max_activities=0, max_orchestrations=0,
                        azurite=proc).close()
        raise
    return Environment(
        connection_string=conn,
        task_hub=os.environ.get("HARVEST_TASK_HUB") or str(host["hubName"]),
        max_activities=int(host.get("maxConcurrentActivityFunctions", 4)),
        max_orchestrations=int(host.get("maxConcurrentOrchestratorFunctions", 8)),
        function_timeout=host.get("functionTimeout"),
        azurite=proc,
        durable_checks=os.environ.get("HARVEST_DEVHOST_DURABLE_CHECKS") or "warn",
    )


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


__all__ = ["REPO_ROOT", "AzuriteError", "Environment", "apply_options", "prepare"]

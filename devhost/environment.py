"""Prepare the environment the CLI runs in, in this order: local settings and the CLI's options, then the
settings (read once) and the manifest validated, then logging, and only then storage (Azurite if needed).

Precedence, as ``func start`` has it: a real environment variable wins over ``local.settings.json``
``Values``; a CLI option (``--manifest``) wins over both. Nothing is started before the settings and the
manifest are known to be valid, so an early error leaves no Azurite behind.
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

from devhost.azurite import AzuriteError, resolve_storage, start_azurite
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
    one), and only then make sure storage answers: when it is the emulator and nothing listens, start
    Azurite with its data under ``.harvest/``.

    Raises ``AzuriteError`` with a readable message when the emulator cannot be started.
    """
    apply_options(manifest)
    if validate is not None:
        validate()
    host = load_host_settings(REPO_ROOT)
    conn, is_emulator = resolve_storage(os.environ["AzureWebJobsStorage"])
    proc = None
    endpoint = _endpoint(conn)
    if is_emulator and endpoint and endpoint[0] in ("127.0.0.1", "localhost") and not listening(*endpoint):
        data = Path(os.environ.get("HARVEST_AZURITE_DIR") or DATA_DIR)
        if not quiet:
            print(f"Azurite is not running on {endpoint[0]}:{endpoint[1]}; starting it (data in {data}/) ...",
                  file=sys.stderr)
        proc = start_azurite(port=endpoint[1], location=data, repo_root=REPO_ROOT)
    return Environment(
        connection_string=conn,
        task_hub=os.environ.get("HARVEST_TASK_HUB") or str(host["hubName"]),
        max_activities=int(host.get("maxConcurrentActivityFunctions", 4)),
        max_orchestrations=int(host.get("maxConcurrentOrchestratorFunctions", 8)),
        function_timeout=host.get("functionTimeout"),
        azurite=proc,
        durable_checks=os.environ.get("HARVEST_DEVHOST_DURABLE_CHECKS") or "warn",
    )


__all__ = ["REPO_ROOT", "AzuriteError", "Environment", "apply_options", "prepare"]

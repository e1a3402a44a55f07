"""Prepare the environment the CLI runs in: local settings, the manifest, storage (Azurite if needed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

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


def prepare(manifest: str | None = None, *, quiet: bool = False) -> Environment:
    """Load local.settings.json (environment wins), point at the manifest, and make sure storage answers:
    when it is the emulator and nothing listens, start Azurite with its data under ``.harvest/``.

    Raises ``AzuriteError`` with a readable message when the emulator cannot be started.
    """
    apply_local_settings(REPO_ROOT)
    if manifest:
        os.environ["HARVEST_MANIFEST"] = str(Path(manifest).resolve())
    conn, is_emulator = resolve_storage(os.environ.get("AzureWebJobsStorage", "UseDevelopmentStorage=true"))
    os.environ["AzureWebJobsStorage"] = conn
    proc = None
    endpoint = _endpoint(conn)
    if is_emulator and endpoint and endpoint[0] in ("127.0.0.1", "localhost") and not listening(*endpoint):
        if not quiet:
            print(f"Azurite is not running on {endpoint[0]}:{endpoint[1]}; starting it "
                  f"(data in {DATA_DIR.relative_to(REPO_ROOT)}/) ...", file=sys.stderr)
        proc = start_azurite(port=endpoint[1], location=DATA_DIR, repo_root=REPO_ROOT)
    host = load_host_settings(REPO_ROOT)
    return Environment(
        connection_string=conn,
        task_hub=os.environ.get("HARVEST_TASK_HUB") or str(host["hubName"]),
        max_activities=int(host.get("maxConcurrentActivityFunctions", 4)),
        max_orchestrations=int(host.get("maxConcurrentOrchestratorFunctions", 8)),
        function_timeout=host.get("functionTimeout"),
        azurite=proc,
    )


__all__ = ["REPO_ROOT", "AzuriteError", "Environment", "prepare"]

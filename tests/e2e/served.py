"""A module-scoped `harvest serve` (subprocess) on its own container and task hub, with the fast embedder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from shared.runs.status import RUNTIME_ENDED
from tests.conftest import wait_until
from tests.e2e.conftest import Workspace, new_workspace


def workspace(root: Path, azurite: str, **env: str) -> Workspace:
    """A workspace for a module-scoped ``harvest serve``: the fast embedder, a longer HTTP timeout."""
    return new_workspace(root, azurite, **{"HARVEST_EMBEDDER": "hashing", "HARVEST_HTTP_TIMEOUT": "60", **env})


def wait_run(base: str, run_id: str, timeout: float = 120) -> dict[str, Any]:
    url = f"{base}/runtime/webhooks/durabletask/instances/{run_id}"
    return wait_until(lambda: requests.get(url, timeout=10).json(), lambda s: s.get("runtimeStatus") in RUNTIME_ENDED,
                      timeout, f"end of run {run_id}")

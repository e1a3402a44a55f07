"""A module-scoped `harvest serve` (subprocess) on its own container and task hub, with the fast embedder."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from shared.runs.status import RUNTIME_ENDED
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import Workspace


def workspace(root: Path, azurite: str, **env: str) -> Workspace:
    (root / "docs").mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    base.update({
        "AzureWebJobsStorage": azurite, "HARVEST_CONTAINER": f"ops-{uuid.uuid4().hex[:10]}",
        "HARVEST_TASK_HUB": f"OPS{uuid.uuid4().hex[:10]}", "HARVEST_MANIFEST": str(root / "sources.yaml"),
        "HARVEST_EMBEDDER": "hashing", "HARVEST_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1/32", "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO_ROOT), "HARVEST_HTTP_TIMEOUT": "60", "HARVEST_DEVHOST_DURABLE_CHECKS": "error", **env,
    })
    return Workspace(root=root, env=base)


def wait_until(fetch: Any, done: Any, timeout: float = 120, what: str = "condition") -> Any:
    """Poll ``fetch()`` until ``done(value)``; fail with the last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached: {value}")
        time.sleep(0.2)
        value = fetch()
    return value


def wait_run(base: str, run_id: str, timeout: float = 120) -> dict[str, Any]:
    url = f"{base}/runtime/webhooks/durabletask/instances/{run_id}"
    return wait_until(lambda: requests.get(url, timeout=10).json(), lambda s: s.get("runtimeStatus") in RUNTIME_ENDED,
                      timeout, f"end of run {run_id}")

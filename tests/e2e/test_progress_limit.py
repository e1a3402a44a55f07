"""A run over 200 sources keeps its custom status under the Durable extension's limit (16 KB counted as
UTF-16) at every poll of the status URL, on the local host (issue 11)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from shared.runs.progress import EXTENSION_LIMIT, HARD_LIMIT, utf16_size
from tests.e2e.served import workspace

pytestmark = pytest.mark.slow
SOURCES = 200


def test_200_sources_stay_under_16_kb_utf16_at_every_poll(tmp_path: Path, azurite: str) -> None:
    ws = workspace(tmp_path, azurite, HARVEST_MAX_PARALLEL_SOURCES="16")
    ids = [f"{i:03d}-" + "s" * 59 for i in range(SOURCES)]  # the manifest's longest ids (63 characters)
    ws.manifest("sources:\n" + "".join(f"  - {{id: {sid}, kind: folder, path: docs}}\n" for sid in ids))
    (ws.docs / "note.md").write_text("# Ñote\n\nA tiny document for many sources. ✓\n")
    base = ws.serve()
    started = requests.post(f"{base}/api/runs", json={"dry_run": True}, timeout=60)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    durable = f"{base}/runtime/webhooks/durabletask/instances/{run_id}"
    sizes, deadline = [], time.monotonic() + 600
    while True:
        status = requests.get(durable, timeout=30).json()
        custom = status.get("customStatus")
        if custom is not None:
            sizes.append(utf16_size(json.dumps(custom, ensure_ascii=False, separators=(",", ":"))))
        if status["runtimeStatus"] in ("Completed", "Failed", "Terminated"):
            break
        assert time.monotonic() < deadline, status.get("customStatus")
        time.sleep(0.5)
    assert status["runtimeStatus"] == "Completed", ws.log()
    assert status["output"]["status"] == "completed" and len(status["output"]["sources"]) == SOURCES
    assert len(sizes) > 3 and max(sizes) <= HARD_LIMIT < EXTENSION_LIMIT, sizes
    assert status["customStatus"]["done"] == SOURCES and status["customStatus"].get("aggregated") is True

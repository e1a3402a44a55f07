"""A whole run on the local host constructs one Blob service client for the app's storage account (and,
with a connection string, no credential) however many activities and HTTP calls it makes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.e2e.served import workspace


def test_a_run_constructs_one_service_client(tmp_path: Path, azurite: str) -> None:
    ws = workspace(tmp_path, azurite, HARVEST_BATCH_SIZE="2", HARVEST_MAX_PARALLEL_SOURCES="3")
    ws.manifest("sources:\n" + "".join(f"  - {{id: notes-{i}, kind: folder, path: docs}}\n" for i in range(3)))
    for i in range(8):
        (ws.docs / f"n{i}.md").write_text(f"# Note {i}\n\n" + f"Bees visit flower {i}. " * 30)
    done = subprocess.run([sys.executable, "-m", "tests.e2e.count_clients"], cwd=REPO_ROOT, env=ws.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    counted = json.loads(done.stdout.strip().splitlines()[-1])
    assert counted["runtime_status"] == "Completed", counted
    assert counted["output"]["totals"]["added"] == 24  # 3 sources x 8 documents, in batches of 2
    # run from the repo root, it published into the workspace's index, not the developer's .harvest/index
    assert (tmp_path / ".harvest" / "index" / "chunks.lance").is_dir()
    assert counted["blob_service"] == 1 and counted["credential"] == 0, counted
    assert "Unclosed" not in done.stderr, done.stderr[-2000:]

"""What `harvest run` prints about sources it cannot reach (issue 23 item 6) and what its columns mean
(item 4): one line per source in words, no WARNING lines, no exception class names; failed sources counted
apart from failed documents; the source's wall time."""

from __future__ import annotations

import json

import pytest

from tests.conftest import free_port
from tests.e2e.conftest import Workspace

pytestmark = pytest.mark.slow


def test_unreachable_hosts_are_one_line_per_source_in_words(workspace: Workspace) -> None:
    ws = workspace
    ws.env.update(HARVEST_EMBEDDER="hashing", HARVEST_HTTP_TIMEOUT="2")
    closed = [free_port() for _ in range(3)]  # nothing listens there: every connection is refused
    ws.manifest("sources:\n" + "".join(f"  - {{id: feed{i}, kind: rss, url: 'http://127.0.0.1:{port}/feed'}}\n"
                                       for i, port in enumerate(closed)))
    done = ws.harvest("run")
    assert done.returncode == 1, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    assert "ClientConnector" not in done.stdout + done.stderr and "TransientError" not in done.stdout
    assert "run " in done.stdout and "(3 sources: 3 failed)" in done.stdout
    reasons = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("feed")
               and ": discover: " in line]
    assert len(reasons) == 3, done.stdout
    for i, port in enumerate(closed):
        assert any(r.startswith(f"feed{i}: discover: GET http://127.0.0.1:{port}/feed: cannot reach 127.0.0.1:{port}: "
                                "connection refused (nothing listens there)") for r in reasons), reasons


def test_the_summary_shows_wall_time_and_stage_seconds(workspace: Workspace) -> None:
    ws = workspace
    ws.env["HARVEST_EMBEDDER"] = "hashing"
    for i in range(3):
        (ws.docs / f"n{i}.md").write_text(f"# Note {i}\n\nThe ferry leaves the harbour at {i} o'clock sharp.\n")
    done = ws.harvest("run")
    assert done.returncode == 0, done.stderr
    assert "wall s" in done.stdout and "docs failed" in done.stdout
    assert "stage seconds (summed over parallel batches): notes: discover" in done.stdout
    summary = json.loads(ws.harvest("status", json.loads(ws.harvest("runs", "--json").stdout)[0]["run_id"],
                                    "--json").stdout)
    assert summary["sources"]["notes"]["started_at"] and summary["sources"]["notes"]["finished_at"]

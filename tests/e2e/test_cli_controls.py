"""Every HTTP control has a CLI twin (issue 23 item 1, docs/operations.md's table): `harvest cancel`,
`suspend`, `resume RUN_ID`, `purge`, `sources reset`, `stats`, `health` — with no host running (the command
carries the operation itself) and through a running `harvest serve`."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.e2e.conftest import Workspace
from tests.e2e.docs_text import write_docs

pytestmark = pytest.mark.slow


def test_stats_health_reset_and_purge_without_a_host(workspace: Workspace) -> None:
    ws = workspace
    ws.env["HARVEST_EMBEDDER"] = "hashing"
    (ws.docs / "a.md").write_text("# A\n\nThe harbour master logs every ship that enters and leaves.\n")
    done = ws.harvest("run", "--json")
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]

    stats = json.loads(ws.harvest("stats", "--days", "1", "--json").stdout)
    assert stats["runs"] == 1 and stats["by_status"]["completed"] == 1
    assert "1 run(s) (1 completed)" in ws.harvest("stats").stdout
    health = ws.harvest("health")
    assert health.returncode == 0 and "ok   storage" in health.stdout and "ok   manifest" in health.stdout

    reset = ws.harvest("sources", "reset", "notes")
    assert reset.returncode == 0 and "its next run re-reads it from the beginning" in reset.stderr
    again = json.loads(ws.harvest("run", "--json").stdout)
    assert again["sources"]["notes"]["counts"]["discovered"] == 1
    assert ws.harvest("sources", "reset", "nope").returncode == 1

    purged = ws.harvest("purge", run_id)
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.startswith(f"run {run_id} purged (")
    gone = ws.harvest("status", run_id)
    assert gone.returncode == 1 and "no run record" in gone.stderr
    assert ws.harvest("cancel").returncode == 1  # no active run


def test_suspend_and_resume_a_run_in_serve_from_the_cli(workspace: Workspace) -> None:
    ws = workspace
    ws.env.update(HARVEST_EMBEDDER="hashing", HARVEST_BATCH_SIZE="1")
    docs = {f"n-{i:02d}.md": f"# Note {i}\n\nThe ferry crossed the strait {i} times in the storm.\n" for i in range(40)}
    write_docs(ws.docs, docs)
    base = ws.serve()
    started = requests.post(f"{base}/api/runs", json={}, timeout=30).json()
    run_id = started["run_id"]
    suspended = ws.harvest("suspend")  # the active run, through serve
    assert suspended.returncode == 0, suspended.stderr
    assert f"run {run_id} suspended (status suspended); `harvest resume {run_id}` continues it" in suspended.stdout
    deadline = time.monotonic() + 60
    while requests.get(started["statusQueryGetUri"], timeout=10).json()["runtime_status"] != "Suspended":
        assert time.monotonic() < deadline, "never suspended"
        time.sleep(0.2)
    again = ws.harvest("run")
    assert again.returncode == 2 and f"run {run_id} is suspended in `harvest serve` at {base}" in again.stderr
    assert f"`harvest resume {run_id}` resumes it" in again.stderr
    resumed = ws.harvest("resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert f"run {run_id} resumed in `harvest serve` at {base}" in resumed.stderr
    deadline = time.monotonic() + 120
    while (status := requests.get(started["statusQueryGetUri"], timeout=10).json())["runtime_status"] != "Completed":
        assert time.monotonic() < deadline, status
        time.sleep(0.3)
    assert status["sources"]["notes"]["counts"]["added"] == 40

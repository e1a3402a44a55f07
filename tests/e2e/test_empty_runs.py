"""Issue 12 item 1: a run with nothing to do (an empty manifest, every source disabled) completes as such, and
the run history (``harvest runs``, the index behind ``GET /api/runs`` and ``/api/stats``) keeps working."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Workspace


@pytest.mark.parametrize("manifest", ["sources: []\n",
                                      "sources:\n  - {id: notes, kind: folder, path: docs, enabled: false}\n"])
def test_a_run_with_nothing_to_do_completes_and_history_survives(workspace: Workspace, manifest: str) -> None:
    workspace.manifest(manifest)
    done = workspace.harvest("run", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "completed" and summary["sources"] == {}
    assert "nothing to do" in summary["message"]
    listed = workspace.harvest("runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [summary["run_id"]]

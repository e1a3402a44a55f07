"""Issue 12 item 12 through the CLI: `harvest sources retire` takes a removed source out of the corpus."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Workspace
from tests.e2e.test_corrupt_state import setup


def test_retire_a_removed_source(workspace: Workspace) -> None:
    """Issue 12 item 12 through the CLI."""
    setup(workspace, 2)
    still = workspace.harvest("sources", "retire", "notes")
    assert still.returncode == 2 and "still enabled" in still.stderr
    workspace.manifest("sources: []\n")
    done = workspace.harvest("sources", "retire", "notes", "--reason", "moved", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["retired"] == 2
    exported = workspace.harvest("export")
    assert exported.returncode == 0 and exported.stdout == ""


@pytest.mark.parametrize("command", [("sources", "retire", "../state"), ("verify", "--source", "Notes/x")])
def test_a_bad_source_id_is_refused_before_storage(workspace: Workspace, command: tuple[str, ...]) -> None:
    done = workspace.harvest(*command)
    assert done.returncode == 2, done.stderr
    assert "is not a source id" in done.stderr and "Traceback" not in done.stderr

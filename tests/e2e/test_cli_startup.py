"""Start-up order of the CLI (issue 12 item 11, issue 11 defect 4): settings are read once, after the CLI's
options are applied; a bad setting or manifest leaves no Azurite behind (the emulator a command needs is
launched while they are validated and stopped again when they are not valid); starting it is quiet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from devhost.azurite import azurite_connection_string, is_listening
from devhost.environment import REPO_ROOT
from tests.conftest import free_port, wait_until
from tests.e2e.conftest import Workspace

pytestmark = pytest.mark.slow


def test_manifest_option_wins_when_storage_is_set(workspace: Workspace) -> None:
    """AzureWebJobsStorage set (the workspace sets it) and HARVEST_MANIFEST naming another file:
    `harvest run --manifest FILE` runs FILE's sources."""
    ws = workspace
    ws.env["HARVEST_EMBEDDER"] = "hashing"
    (ws.docs / "a.md").write_text("# A\n\nThe decoy must not run.\n")
    (ws.root / "other").mkdir()
    (ws.root / "other" / "b.md").write_text("# B\n\nThis one must run.\n")
    other = ws.root / "other.yaml"
    other.write_text("sources:\n  - {id: chosen, kind: folder, path: other}\n")
    ws.manifest("sources:\n  - {id: decoy, kind: folder, path: docs}\n")
    done = ws.harvest("run", "--manifest", str(other), "--json")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["sources"]) == {"chosen"}


def _emulator_on_free_port(ws: Workspace) -> int:
    port = free_port()
    ws.env["AzureWebJobsStorage"] = azurite_connection_string(port)
    return port


def _stop_leftover(port: int) -> None:
    """If the CLI left an Azurite behind on ``port`` (the bug), stop it so it does not outlive the test."""
    if is_listening("127.0.0.1", port):
        subprocess.run(["fuser", "-k", f"{port}/tcp"], check=False, capture_output=True)
        wait_until(lambda: is_listening("127.0.0.1", port), lambda up: not up, 10, f"port {port} freed", 0.1)


@pytest.mark.parametrize("problem", ["manifest", "setting"])
def test_early_error_starts_no_azurite(workspace: Workspace, problem: str) -> None:
    ws = workspace
    port = _emulator_on_free_port(ws)
    if problem == "manifest":
        ws.manifest("sources:\n  - {id: notes, kind: folder, path: docs, colour: 3}\n")
    else:
        ws.env["HARVEST_CHUNK_TOKENS"] = "many"
    try:
        done = ws.harvest("run", timeout=120)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert ("colour" if problem == "manifest" else "HARVEST_CHUNK_TOKENS") in done.stderr
        assert "starting it" not in done.stderr
        assert not is_listening("127.0.0.1", port), "Azurite was left running after an early error"
    finally:
        _stop_leftover(port)


def test_a_command_that_starts_azurite_says_nothing_about_it(workspace: Workspace) -> None:
    """Issue 23 item 8: every command printed "Azurite is not running on ...; starting it". It starts the
    emulator it needs quietly (a long wait would be said) and stops it when it ends."""
    ws = workspace
    port = _emulator_on_free_port(ws)
    try:
        listed = ws.harvest("runs", timeout=120)
        assert listed.returncode == 0, listed.stderr
        assert "Azurite" not in listed.stderr and "no runs found" in listed.stderr
        assert not is_listening("127.0.0.1", port), "the command's Azurite was left running"
        # its data went where HARVEST_AZURITE_DIR says (the workspace), not to the repo's .harvest/azurite
        assert (Path(ws.env["HARVEST_AZURITE_DIR"]) / f"azurite-{port}.log").exists()
        assert not (REPO_ROOT / ".harvest" / "azurite" / f"azurite-{port}.log").exists()
    finally:
        _stop_leftover(port)

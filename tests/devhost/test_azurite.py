"""``start_azurite(preload=...)``: Node loads the script before Azurite, and Azurite still answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhost.azurite import AzuriteError, is_listening, start_azurite
from tests.conftest import REPO_ROOT, free_port


def test_a_preload_script_runs_before_azurite_which_still_answers(tmp_path: Path) -> None:
    marker = tmp_path / "loaded"
    script = tmp_path / "preload.js"
    script.write_text(f"require('fs').writeFileSync({str(marker)!r}, process.argv[1]);\n")
    port = free_port()
    proc = start_azurite(port=port, location=tmp_path / "az", repo_root=REPO_ROOT, in_memory=True, preload=script)
    try:
        assert is_listening("127.0.0.1", port)
        assert marker.read_text().endswith("main.js")  # the preload ran inside the process that runs Azurite
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_missing_preload_script_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    with pytest.raises(AzuriteError, match="azurite exited"):
        start_azurite(port=free_port(), location=tmp_path / "az", repo_root=REPO_ROOT, in_memory=True,
                      preload=tmp_path / "missing.js")

"""`harvest sources validate|list` (in-process): every problem with its source and field, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from tests.shared.test_sources_manifest import every_kind_manifest


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return every_kind_manifest(tmp_path)


def test_cli_validate_and_list(manifest: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["sources", "validate", str(manifest)])
    assert ok.exit_code == 0, ok.output
    assert "6 source(s), 5 enabled: valid" in ok.output
    assert "app setting API_TOKEN is not set" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - {id: news, kind: rss, url: 'https://f.example/x?token=abc'}\n"
                   "  - {id: n2, kind: nope}\n")
    failed = runner.invoke(app, ["sources", "validate", str(bad)])
    assert failed.exit_code == 2
    assert "sources[0] (news).url" in failed.output and "sources[1] (n2).kind" in failed.output
    listed = runner.invoke(app, ["sources", "list", str(manifest), "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["id"] == "notes"


def test_cli_validate_reports_a_missing_folder(tmp_path: Path) -> None:
    """Issue 12: `sources validate` called a manifest whose folder does not exist valid."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text("sources:\n  - {id: notes, kind: folder, path: nowhere}\n")
    result = CliRunner().invoke(app, ["sources", "validate", str(manifest)])
    assert result.exit_code == 2, result.output
    assert "notes" in result.output and "is not a directory" in result.output and ": valid" not in result.output

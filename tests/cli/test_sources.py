"""`harvest sources validate|list` (in-process): every problem with its source and field, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from tests.shared.config.test_sources_manifest import every_kind_manifest


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


@pytest.mark.parametrize(("text", "line"), [
    ("sources: " + "[" * 20000 + "]" * 20000 + "\n", "nesting depth"),
    ('sources:\n  - id: notes\n    kind: folder\n    path: docs\n    path: ../outside\n',
     "line 5: duplicate key 'path' (first on line 4)"),
])
def test_cli_answers_hostile_yaml_in_one_line(tmp_path: Path, text: str, line: str) -> None:
    """Issue 25 items 6 and 8: a RecursionError traceback; a duplicate key silently last-wins."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(text)
    result = CliRunner().invoke(app, ["sources", "validate", str(manifest)])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and line in result.output, result.output
    assert "Traceback" not in result.output


def test_cli_refuses_dev_zero_in_one_line() -> None:
    result = CliRunner().invoke(app, ["sources", "validate", "/dev/zero"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: /dev/zero: is a device, not a regular file: a manifest is a YAML file"


def test_cli_validate_lists_every_problem_at_once_in_the_users_words(tmp_path: Path) -> None:
    """Issue 23 item 5, with the user's manifest: a regex for the URL and the id, the missing folder only after
    the rest was fixed."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text("sources:\n  - {id: news, kind: rss, url: 'htp://example.org/feed'}\n"
                        "  - {id: Notes, kind: folder, path: docs}\n  - {id: gone, kind: folder, path: nowhere}\n")
    result = CliRunner().invoke(app, ["sources", "validate", str(manifest)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{manifest}: 3 problem(s)"
    assert lines[1] == "  sources[0] (news).url: URL scheme should be 'http' or 'https' (it is 'htp')"
    assert lines[2].startswith("  sources[1] (Notes).id: must be lowercase: write 'notes'")
    assert lines[3] == f"  sources[2] (gone).path: {tmp_path / 'nowhere'} is not a directory"

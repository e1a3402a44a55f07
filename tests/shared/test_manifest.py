"""The manifest: every problem reported with its source and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.manifest import load_manifest


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    (tmp_path / "docs").mkdir(exist_ok=True)
    return path


def test_valid_manifest_loads_each_kind(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, """
sources:
  - {id: notes, kind: folder, path: docs}
  - {id: news, kind: rss, url: "https://example.org/feed.xml", enabled: false}
"""))
    assert m.ids() == ["notes", "news"]
    assert [s.id for s in m.select(None)] == ["notes"]
    assert [s.id for s in m.select(["news"])] == ["news"]


def test_every_problem_names_source_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_manifest(write(tmp_path, """
sources:
  - {id: notes, kind: folder}
  - {id: news, kind: rss, url: "ftp://x", colour: red}
  - {id: Bad Id, kind: folder, path: docs}
  - {id: what, kind: telepathy}
  - {id: notes, kind: folder, path: docs}
"""))
    fields = {p["field"] for p in info.value.problems}
    assert "sources[0] (notes).path" in fields
    assert "sources[1] (news).url" in fields
    assert "sources[1] (news).colour" in fields
    assert "sources[2] (Bad Id).id" in fields
    assert "sources[3] (what).kind" in fields
    assert "sources[4] (notes).id" in fields
    assert "sources[0] (notes).path" in str(info.value)


def test_unknown_selected_source_is_a_field_error(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, "sources:\n  - {id: notes, kind: folder, path: docs}\n"))
    with pytest.raises(ConfigError) as info:
        m.select(["notes", "nope"])
    assert info.value.problems == [{"field": "sources", "message": "unknown source id 'nope'"}]


@pytest.mark.parametrize("text", ["sources: 3\n", "- a\n- b\n", "sources: [\n"])
def test_malformed_files_are_config_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_manifest(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_manifest(tmp_path / "absent.yaml")


def test_the_bundled_manifest_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    m = load_manifest(root / "sources.yaml")
    assert "samples" in m.ids()


def test_detect_deletions_only_where_the_kind_can(tmp_path: Path) -> None:
    text = "sources:\n  - {id: notes, kind: folder, path: docs, detect_deletions: false}\n"
    m = load_manifest(write(tmp_path, text))
    assert m.sources[0].detect_deletions is False
    with pytest.raises(ConfigError) as info:
        text = 'sources:\n  - {id: news, kind: rss, url: "https://x.org/f", detect_deletions: true}\n'
        load_manifest(write(tmp_path, text))
    assert info.value.problems[0]["field"] == "sources[0] (news).detect_deletions"

"""The manifest: every problem reported with its source and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config.manifest import load_manifest
from shared.errors import ConfigError


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
    root = Path(__file__).resolve().parents[3]
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


BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
sources:
  - {id: notes, kind: folder, path: docs, title: *i}
"""


def test_yaml_aliases_are_refused_naming_the_file(tmp_path: Path) -> None:
    """Issue 12 item 10: a billion-laughs manifest hung `harvest sources validate` at 100% CPU."""
    path = write(tmp_path, BOMB)
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    assert str(path) in str(info.value)
    assert "alias" in info.value.problems[0]["message"]
    assert info.value.problems[0]["field"].startswith("manifest")


def test_a_plain_alias_is_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path, "common: &c {kind: folder, path: docs}\nsources:\n  - {id: notes, <<: *c}\n")
    with pytest.raises(ConfigError, match=r"line 3: aliases \(\*c\) are not allowed"):
        load_manifest(path)


def test_a_non_utf8_manifest_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_bytes("sources:\n  - {id: caf\u00e9, kind: folder, path: docs}\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    assert str(path) in str(info.value) and "UTF-8" in str(info.value)


@pytest.mark.parametrize(("value", "shown"), [("off", "off"), ("yes", "yes"), ("no", "no"), ("123", "123"),
                                              ("null", "null")])
def test_an_id_yaml_turned_into_another_type_gets_a_quoting_hint(tmp_path: Path, value: str, shown: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_manifest(write(tmp_path, f"sources:\n  - id: {value}\n    kind: folder\n    path: docs\n"))
    message = info.value.problems[0]["message"]
    assert info.value.problems[0]["field"] == "sources[0].id"
    assert "quote" in message and f'"{shown}"' in message, message

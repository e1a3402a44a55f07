"""Manifests as users write them (issue 23 item 5, issue 25 items 6, 8, 9, 10): problems in the user's words,
all at once; files and YAML that crashed or hung the CLI refused in one line."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from shared.config import manifest_yaml
from shared.config.manifest import load_manifest
from shared.config.manifest_yaml import MAX_DEPTH, MAX_SOURCES, PyManifestLoader, parse_yaml
from shared.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "sources.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    (tmp_path / "docs").mkdir(exist_ok=True)
    return path


def problems(path: Path, **kw: object) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        load_manifest(path, **kw)  # type: ignore[arg-type]
    return {p["field"]: p["message"] for p in info.value.problems}


def test_a_wrong_url_scheme_is_said_as_the_readme_promises(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "sources:\n  - {id: news, kind: rss, url: 'htp://example.org/feed'}\n"))
    assert found == {"sources[0] (news).url": "URL scheme should be 'http' or 'https' (it is 'htp')"}


def test_an_uppercase_id_is_explained_not_quoted_as_a_regex(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "sources:\n  - {id: Notes, kind: folder, path: docs}\n"))
    message = found["sources[0] (Notes).id"]
    assert message.startswith("must be lowercase: write 'notes'") and "^[" not in message


def test_source_instead_of_sources_names_the_typo(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "source:\n  - {id: notes, kind: folder, path: docs}\n"))
    assert found["source"] == "unknown key: did you mean 'sources:'?"
    assert "missing" in found["sources"]


def test_an_unknown_field_gets_a_did_you_mean(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "sources:\n  - {id: notes, kind: folder, pth: docs}\n"))
    assert found["sources[0] (notes).pth"] == "unknown field: did you mean 'path'?"
    assert found["sources[0] (notes).path"] == "is required"


def test_a_missing_folder_is_reported_with_the_schema_errors_in_the_same_format(tmp_path: Path) -> None:
    path = write(tmp_path, "sources:\n  - {id: news, kind: rss, url: 'htp://x'}\n"
                           "  - {id: gone, kind: folder, path: nowhere}\n")
    found = problems(path, check_build=True)
    assert set(found) == {"sources[0] (news).url", "sources[1] (gone).path"}
    assert found["sources[1] (gone).path"].endswith("nowhere is not a directory")


def test_validate_checks_what_the_run_refuses_a_loopback_feed(tmp_path: Path) -> None:
    path = write(tmp_path, "sources:\n  - {id: news, kind: rss, url: 'http://127.0.0.1:8080/feed'}\n"
                           "  - {id: local, kind: sitemap, url: 'http://localhost/sitemap.xml'}\n"
                           "  - {id: named, kind: rss, url: 'https://example.org/feed'}\n")
    found = problems(path, check_build=True, environ={})
    assert set(found) == {"sources[0] (news).url", "sources[1] (local).url"}
    assert "HARVEST_ALLOWED_PRIVATE_NETWORKS=127.0.0.1/32" in found["sources[0] (news).url"]
    allowed = load_manifest(path, check_build=True,
                            environ={"HARVEST_ALLOWED_PRIVATE_NETWORKS": "127.0.0.0/8,::1/128"})
    assert allowed.ids() == ["news", "local", "named"]


def test_a_nul_byte_in_a_path_is_a_field_problem(tmp_path: Path) -> None:
    """Issue 25 item 6: a NUL in `path` was a traceback in validate and accepted by run."""
    found = problems(write(tmp_path, 'sources:\n  - {id: notes, kind: folder, path: "do\\0cs"}\n'))
    assert found == {"sources[0] (notes).path": "contains a NUL character"}


def test_duplicate_keys_are_refused_naming_the_lines(tmp_path: Path) -> None:
    """Issue 25 item 8: `path: docs` then `path: ../outside` validated and ingested the outside folder."""
    path = write(tmp_path, "sources:\n  - id: notes\n    kind: folder\n    path: docs\n    path: ../outside\n")
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    assert str(info.value).splitlines()[0] == (
        f"{path}: line 5: duplicate key 'path' (first on line 4): YAML would keep only the last one; "
        "remove one of them")


@pytest.mark.parametrize("loader", [None, PyManifestLoader], ids=["libyaml", "python"])
def test_deep_nesting_is_refused_in_one_line(loader: type | None) -> None:
    """Issue 25 item 6: 20,000 nested brackets raised RecursionError in `sources validate` and `run`."""
    for depth in (MAX_DEPTH + 1, 20_000):
        with pytest.raises(ConfigError) as info:
            parse_yaml("sources: " + "[" * depth + "]" * depth, "m.yaml", loader)
        first = str(info.value).splitlines()[0]
        assert first.startswith("m.yaml: ") and ("nested deeper" in first or "nesting depth" in first), first
    block = "sources:\n  - id: x\n    kind: folder\n    path: docs\n    extra:\n" + "".join(
        "      " + "  " * i + f"k{i}:\n" for i in range(MAX_DEPTH)) + "      " + "  " * MAX_DEPTH + "v: 1\n"
    with pytest.raises(ConfigError, match="nested deeper than"):
        parse_yaml(block, "m.yaml", loader)


@pytest.mark.parametrize("loader", [None, PyManifestLoader], ids=["libyaml", "python"])
def test_the_same_checks_with_either_parser(loader: type | None) -> None:
    data, raw = parse_yaml("sources:\n  - {id: 'off', kind: folder, path: docs}\n  - {id: off, kind: x}\n",
                           "m.yaml", loader)
    assert data["sources"][0]["id"] == "off" and raw == {1: "off"}
    with pytest.raises(ConfigError, match="line 2: duplicate key 'id'"):
        parse_yaml("sources:\n  - {id: a, id: b}\n", "m.yaml", loader)
    with pytest.raises(ConfigError, match="aliases"):
        parse_yaml("a: &x 1\nsources: [*x]\n", "m.yaml", loader)


def test_dev_zero_is_refused_at_once(tmp_path: Path) -> None:
    """Issue 25 item 6: `--manifest /dev/zero` ran out of memory after 5 s."""
    with pytest.raises(ConfigError) as info:
        load_manifest(Path("/dev/zero"))
    assert str(info.value).splitlines()[0] == "/dev/zero: is a device, not a regular file: a manifest is a YAML file"


def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    """Issue 25 item 6: a FIFO as the manifest blocked the CLI for good (nobody writes to it here)."""
    fifo = tmp_path / "m.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            load_manifest(fifo)
        except ConfigError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)  # a hang guard: the refusal is immediate
    assert outcome, "reading a FIFO manifest blocked"
    assert "is a FIFO (named pipe), not a regular file" in str(outcome[0])


def test_a_directory_and_an_oversized_file_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="is a directory, not a regular file"):
        load_manifest(tmp_path)
    monkeypatch.setattr(manifest_yaml, "MAX_BYTES", 100)
    with pytest.raises(ConfigError, match="a manifest may be at most"):
        load_manifest(write(tmp_path, "sources:\n" + "  - {id: n, kind: folder, path: docs}\n" * 5))


def test_more_sources_than_the_limit_are_refused_quickly(tmp_path: Path) -> None:
    """Issue 25 item 10: 100,000 sources took 32 s and 722 MB to validate; past MAX_SOURCES the count is
    refused while parsing, naming the line."""
    lines = "".join(f"  - {{id: s{i:06d}, kind: rss, url: 'https://example.org/{i}.xml'}}\n"
                    for i in range(MAX_SOURCES + 5))
    path = write(tmp_path, "sources:\n" + lines)
    with pytest.raises(ConfigError) as info:
        load_manifest(path)
    assert f"line {MAX_SOURCES + 2}: more than {MAX_SOURCES:,} entries in one list" in str(info.value)
    at_limit = write(tmp_path, "sources:\n" + "".join(lines.splitlines(keepends=True)[:MAX_SOURCES]), "ok.yaml")
    assert len(load_manifest(at_limit).sources) == MAX_SOURCES


def test_folder_paths_may_be_absolute_or_leave_the_manifests_folder(tmp_path: Path) -> None:
    """Issue 25 item 9, decided: a manifest is trusted configuration; a relative path resolves against the
    manifest's folder, an absolute one is used as it is (README "Sources", docs/sources.md)."""
    from shared.sources import build_source

    outside = tmp_path / "outside"
    outside.mkdir()
    conf = tmp_path / "conf"
    conf.mkdir()
    path = write(conf, f"sources:\n  - {{id: rel, kind: folder, path: ../outside}}\n"
                       f"  - {{id: abs, kind: folder, path: '{outside}'}}\n")
    manifest = load_manifest(path, check_build=True)
    roots = {spec.id: build_source(spec, base_dir=manifest.base_dir).root for spec in manifest.sources}  # type: ignore[attr-defined]
    assert roots == {"rel": outside.resolve(), "abs": outside.resolve()}

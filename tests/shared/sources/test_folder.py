"""The folder source on real files in tmp_path."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import ConfigError, PermanentError
from shared.sources import SOURCE_KINDS, SourceSpec, build_source, parse_spec
from shared.sources.folder import FolderSource, FolderSpec, glob_match


def write(root: Path, rel: str, text: str = "x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    for rel in ["b.md", "a.txt", "sub/c.md", "sub/deep/d.html", "sub/e.pdf", "img.png", "notes.markdown",
                "drafts/x.md", "Z.MD"]:
        write(docs, rel, f"content of {rel}")
    return tmp_path


def folder(base: Path, **fields: object) -> FolderSource:
    spec = parse_spec({"id": "docs", "kind": "folder", "path": "docs", **fields})
    source = build_source(spec, base_dir=base)
    assert isinstance(source, FolderSource)
    return source


def test_registry_and_spec(tree: Path) -> None:
    assert SOURCE_KINDS["folder"] is FolderSource
    source = folder(tree)
    assert source.lists_everything is True
    assert isinstance(source.spec, FolderSpec)
    with pytest.raises(ConfigError, match="invalid source manifest"):  # a bare SourceSpec lacks `path`
        build_source(SourceSpec(id="docs", kind="folder"), base_dir=tree)


def test_spec_errors_name_fields() -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec({"id": "Bad Id", "kind": "folder", "path": "x", "colour": "red"})
    fields = {p["field"] for p in info.value.problems}
    assert "sources.Bad Id.id" in fields and "sources.Bad Id.colour" in fields
    with pytest.raises(ConfigError, match="invalid source manifest") as info:
        parse_spec({"id": "x", "kind": "ftp"})
    assert info.value.problems[0]["field"] == "sources.x.kind"


def test_missing_directory_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        folder(tmp_path)
    assert info.value.problems[0]["field"] == "sources.docs.path"
    assert "'docs'" in str(info.value)


async def test_lists_sorted_with_globs(tree: Path) -> None:
    source = folder(tree, exclude=["drafts/**"])
    page = await source.discover(cursor=None, since=None, page_size=100, http=None)  # type: ignore[arg-type]
    assert [r.doc_id for r in page.items] == [
        "Z.MD", "a.txt", "b.md", "notes.markdown", "sub/c.md", "sub/deep/d.html", "sub/e.pdf",
    ]
    assert page.next_cursor is None
    ref = page.items[2]
    path = tree / "docs" / "b.md"
    st = path.stat()
    assert ref.url == path.resolve().as_uri()
    assert ref.hint == f"{st.st_mtime_ns}:{st.st_size}"
    assert ref.updated == datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC)
    assert page.high_water is not None


def test_glob_match() -> None:
    assert glob_match("a.md", "**/*.md")
    assert glob_match("x/y/a.md", "**/*.md")
    assert not glob_match("x/a.md", "*.md")
    assert glob_match("drafts/q/r.txt", "drafts/**")
    assert glob_match("a1.txt", "a?.txt")


async def test_paging_with_cursor_is_resume_safe(tree: Path) -> None:
    source = folder(tree, include=["**/*.md"])
    first = await source.discover(cursor=None, since=None, page_size=2, http=None)  # type: ignore[arg-type]
    assert [r.doc_id for r in first.items] == ["Z.MD", "b.md"]
    assert first.next_cursor == "b.md"
    write(tree / "docs", "a0.md")  # added before the cursor: not repeated, picked up next run
    write(tree / "docs", "c.md")  # added after the cursor: seen in this run
    second = await source.discover(cursor=first.next_cursor, since=None, page_size=2, http=None)  # type: ignore[arg-type]
    assert [r.doc_id for r in second.items] == ["c.md", "drafts/x.md"]
    third = await source.discover(cursor=second.next_cursor, since=None, page_size=2, http=None)  # type: ignore[arg-type]
    assert [r.doc_id for r in third.items] == ["sub/c.md"]
    assert third.next_cursor is None


async def test_fetch_reads_bytes(tree: Path) -> None:
    source = folder(tree)
    page = await source.discover(cursor=None, since=None, page_size=100, http=None)  # type: ignore[arg-type]
    ref = next(r for r in page.items if r.doc_id == "sub/c.md")
    fetched = await source.fetch(ref, http=None)  # type: ignore[arg-type]
    assert fetched.data == b"content of sub/c.md"
    assert fetched.url.startswith("file://") and fetched.url.endswith("/sub/c.md")
    (tree / "docs" / "sub" / "c.md").unlink()
    with pytest.raises(PermanentError, match="no longer exists"):
        await source.fetch(ref, http=None)  # type: ignore[arg-type]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
async def test_symlinks_escaping_the_root_are_ignored(tree: Path, tmp_path: Path) -> None:
    outside = write(tmp_path / "secret", "passwords.md", "top secret")
    os.symlink(outside, tree / "docs" / "leak.md")
    os.symlink(outside.parent, tree / "docs" / "leakdir")
    os.symlink(tree / "docs" / "b.md", tree / "docs" / "inside.md")
    source = folder(tree)
    page = await source.discover(cursor=None, since=None, page_size=100, http=None)  # type: ignore[arg-type]
    ids = [r.doc_id for r in page.items]
    assert "leak.md" not in ids and not any(i.startswith("leakdir/") for i in ids)
    assert "inside.md" in ids
    from shared.models import DocumentRef

    with pytest.raises(PermanentError, match="leaves the folder"):
        await source.fetch(DocumentRef(doc_id="leak.md", url="file:///x"), http=None)  # type: ignore[arg-type]
    with pytest.raises(PermanentError, match="leaves the folder"):
        await source.fetch(DocumentRef(doc_id="../secret/passwords.md", url="file:///x"), http=None)  # type: ignore[arg-type]


async def test_a_name_that_is_not_utf8_is_listed_as_text_and_fails_alone(tmp_path: Path) -> None:
    """Issue 25 item 7: ``os.walk`` hands such a name back with surrogates, which no blob name, cursor or JSON
    document can hold; it is listed with ``\\xNN`` for its bytes, and fetching it is a PermanentError."""
    write(tmp_path / "docs", "good.md", "# Good")
    root = os.fsencode(tmp_path / "docs")
    with open(os.path.join(root, b"caf\xe9.md"), "wb") as handle:
        handle.write(b"# Latin-1 name")
    os.mkdir(os.path.join(root, b"d\xff"))
    with open(os.path.join(root, b"d\xff", b"x.md"), "wb") as handle:
        handle.write(b"# In an undecodable directory")
    source = folder(tmp_path)
    assert source.list_paths() == ["caf\\xe9.md", "d\\xff/x.md", "good.md"]
    page = await source.discover(cursor=None, since=None, page_size=2)
    ids = [r.doc_id for r in page.items]
    for doc_id in [*ids, page.next_cursor or ""]:
        doc_id.encode("utf-8")  # text throughout: ids and cursor
    rest = await source.discover(cursor=page.next_cursor, since=None, page_size=10)
    refs = {r.doc_id: r for r in page.items + rest.items}
    assert sorted(refs) == sorted(["caf\\xe9.md", "d\\xff/x.md", "good.md"])
    assert refs["caf\\xe9.md"].url.endswith("/docs/caf%E9.md") and refs["caf\\xe9.md"].hint
    assert (await source.fetch(refs["good.md"])).data == b"# Good"
    for doc_id in ("caf\\xe9.md", "d\\xff/x.md"):
        with pytest.raises(PermanentError, match=r"the file name is not valid UTF-8.*rename the file"):
            await source.fetch(refs[doc_id])
    # a real name that spells the escape is listed once, and read as itself
    write(tmp_path / "docs", "caf\\xe9.md", "# A real name with a backslash")
    assert source.list_paths() == ["caf\\xe9.md", "d\\xff/x.md", "good.md"]
    page = await source.discover(cursor=None, since=None, page_size=10)
    assert (await source.fetch(page.items[0])).data == b"# A real name with a backslash"

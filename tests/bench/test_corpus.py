"""The benchmark corpus generator: deterministic, realistically spread in size, and a correct edit step."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest

from bench import corpus
from bench.proxy import classify
from bench.server import _to_html


def test_documents_are_deterministic_and_prefix_stable() -> None:
    a = [corpus.render(corpus.make_doc(7, i)) for i in range(20)]
    b = [corpus.render(corpus.make_doc(7, i)) for i in range(20)]
    assert a == b
    assert corpus.render(corpus.make_doc(8, 3)) != a[3]
    assert corpus.doc_ids(5, seed=7) == corpus.doc_ids(50, seed=7)[:5]


def test_prose_is_not_lorem_ipsum() -> None:
    doc = corpus.make_doc(1, 0)
    text = " ".join(p for _, paras in doc.sections for p in paras)
    assert "lorem" not in text.lower()
    words = text.split()
    assert len(set(words)) > 0.3 * len(words)  # varied vocabulary
    assert all(p.rstrip().endswith((".", "!", "?")) for _, paras in doc.sections for p in paras)


def test_size_spread_is_log_normal_from_a_paragraph_to_tens_of_pages() -> None:
    rnd = random.Random(3)
    sizes = sorted(corpus._words_target(rnd) for _ in range(20_000))
    assert 600 <= statistics.median(sizes) <= 800
    assert sizes[0] == corpus.MIN_WORDS and sizes[-1] == corpus.MAX_WORDS  # clipped at both ends
    assert sizes[int(0.01 * len(sizes))] < 120  # about a paragraph
    assert sizes[int(0.995 * len(sizes))] > 8_000  # tens of pages (~500 words a page)
    docs = [corpus.make_doc(1, i) for i in range(150)]
    assert min(d.words for d in docs) < 150 < 3_000 < max(d.words for d in docs)
    assert {d.fmt for d in docs} == {"md", "html", "txt"}


def test_write_then_edit_changes_one_paragraph_in_one_percent_and_deletes_half_a_percent(tmp_path: Path) -> None:
    meta = corpus.write_corpus(tmp_path, 200, seed=5)
    assert meta["n"] == 200 and sum(meta["formats"].values()) == 200
    files = {p.relative_to(tmp_path / "docs").as_posix(): p.read_text() for p in (tmp_path / "docs").rglob("*.*")}
    assert len(files) == 200
    mtimes = {p: (tmp_path / "docs" / p).stat().st_mtime for p in files}

    changes = corpus.edit_corpus(tmp_path)
    assert len(changes["edited"]) == 2 and len(changes["deleted"]) == 1
    assert not set(changes["edited"]) & set(changes["deleted"])
    for doc_id in changes["deleted"]:
        assert not (tmp_path / "docs" / doc_id).exists()
    for doc_id in changes["edited"]:
        path = tmp_path / "docs" / doc_id
        before, after = files[doc_id].split("\n"), path.read_text().split("\n")
        assert len(before) == len(after)
        assert sum(x != y for x, y in zip(before, after, strict=True)) == 1  # one paragraph (one line) changed
        assert path.stat().st_mtime != mtimes[doc_id]
    untouched = set(files) - set(changes["edited"]) - set(changes["deleted"])
    assert all((tmp_path / "docs" / d).read_text() == files[d] for d in untouched)
    with pytest.raises(RuntimeError):
        corpus.edit_corpus(tmp_path)


def test_site_pages_and_proxy_classification() -> None:
    assert classify("PUT", "/devstoreaccount1/bench-x/corpus/a.jsonl") == ("bench-x", "put", "corpus/a.jsonl")
    assert classify("GET", "/devstoreaccount1/bench-x?restype=container&comp=list")[:2] == ("bench-x", "list")
    assert classify("PUT", "/devstoreaccount1/durable-h/instances/i/history-1.jsonl?comp=appendblock")[1] == "append"
    assert classify("HEAD", "/devstoreaccount1/c/b")[1] == "head"


def test_markdown_documents_become_html_pages(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("# Title here\n\nFirst paragraph.\n\n## A section\n\nSecond paragraph.\n")
    page = _to_html(path)
    assert "<title>Title here</title>" in page and "<h2>A section</h2>" in page and "<p>Second paragraph.</p>" in page

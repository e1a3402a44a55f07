"""Chunking in the embedder's own tokens: window guaranteed, overlap honoured, stable hashes."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from shared.embedding import get_embedder
from shared.text.chunking import chunk_hash, chunk_text

VOCAB = [
    "harvest", "pipeline", "durable", "function", "chunk", "embedding", "storage", "blob", "azure", "document",
    "source", "extraction", "model", "window", "token", "overlap", "retry", "checkpoint", "orchestrator",
    "activity", "corpus", "vector",
]


def make_doc(words: int, *, seed: int = 7, markdown: bool = True) -> str:
    rng = random.Random(seed)
    paras, count, i = [], 0, 0
    while count < words:
        if markdown and i % 6 == 0:
            paras.append(f"## Section {i}")
        n = rng.randint(40, 120)
        paras.append(" ".join(rng.choice(VOCAB) + ("." if rng.random() < 0.1 else "") for _ in range(n)))
        count += n
        i += 1
    return "\n\n".join(paras)


def _words(text: str) -> list[str]:
    return text.split()


@pytest.mark.slow
def test_no_chunk_over_the_window_with_e5() -> None:
    e5 = get_embedder("e5-small")
    doc = make_doc(5000)
    # A pathological paragraph: one 3,000-character "word" (no spaces, no sentence breaks).
    doc += "\n\n" + "x" * 3000 + "\n\n" + "a" * 40
    start = time.perf_counter()
    chunks = chunk_text(doc, fmt="markdown", embedder=e5, max_tokens=256, overlap=32)
    elapsed = time.perf_counter() - start
    assert chunks
    for chunk in chunks:
        assert chunk.tokens == e5.count_tokens(chunk.text) <= 256
        assert chunk.text.strip() == chunk.text and chunk.text
        assert chunk.hash == chunk_hash(chunk.text)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert "".join(c.text for c in chunks).count("x") >= 3000  # the giant word survives, in pieces
    assert elapsed < 5.0, f"chunking a 5,000-word document took {elapsed:.2f}s"


@pytest.mark.slow
def test_window_caps_requested_size() -> None:
    e5 = get_embedder("e5-small")
    chunks = chunk_text(make_doc(1500, markdown=False), fmt="text", embedder=e5, max_tokens=4096, overlap=0)
    assert max(c.tokens for c in chunks) <= e5.max_tokens
    assert max(c.tokens for c in chunks) > 300  # capacity is the window, not something tiny


def test_overlap_honoured() -> None:
    embedder = get_embedder("hashing")
    text = " ".join(f"w{i}." for i in range(2000))  # 2000 one-word sentences, 4000 tokens
    chunks = chunk_text(text, fmt="text", embedder=embedder, max_tokens=100, overlap=20)
    assert len(chunks) > 10
    for a, b in itertools.pairwise(chunks):
        shared = set(_words(a.text)) & set(_words(b.text))
        assert shared, "consecutive chunks share no text"
        assert embedder.count_tokens(" ".join(w for w in _words(b.text) if w in shared)) <= 20
    no_overlap = chunk_text(text, fmt="text", embedder=embedder, max_tokens=100, overlap=0)
    for a, b in itertools.pairwise(no_overlap):
        assert not set(_words(a.text)) & set(_words(b.text))
    assert len(no_overlap) < len(chunks)


def test_deterministic_and_local_changes() -> None:
    embedder = get_embedder("hashing")
    doc = make_doc(3000)
    first = chunk_text(doc, fmt="markdown", embedder=embedder, max_tokens=200, overlap=0)
    again = chunk_text(doc, fmt="markdown", embedder=embedder, max_tokens=200, overlap=0)
    assert [c.hash for c in first] == [c.hash for c in again]
    # Edit the last paragraph only: the chunks before it keep their hashes (their vectors are reused).
    edited = doc[: doc.rfind("\n\n")] + "\n\nA brand new closing paragraph."
    changed = chunk_text(edited, fmt="markdown", embedder=embedder, max_tokens=200, overlap=0)
    same = {c.hash for c in first} & {c.hash for c in changed}
    assert len(same) >= len(first) - 2


def test_markdown_respects_sections_and_drops_blank() -> None:
    embedder = get_embedder("hashing")
    doc = "# Title\n\nIntro paragraph.\n\n## A\n\nAlpha text here.\n\n## B\n\nBeta text here.\n\n   \n"
    chunks = chunk_text(doc, fmt="markdown", embedder=embedder, max_tokens=16, overlap=0)
    assert all(c.text.strip() for c in chunks)
    assert any(c.text.startswith("## B") for c in chunks)
    assert chunk_text("   \n\n ", fmt="text", embedder=embedder, max_tokens=64, overlap=0) == []


@pytest.mark.slow
def test_safety_net_splits_offenders_by_words_then_characters() -> None:
    from shared.text.chunking import _split_words

    e5 = get_embedder("e5-small")
    text = make_doc(600, markdown=False) + " " + "y" * 2500 + " tail words"
    pieces = _split_words(text, e5.count_tokens, 128)
    assert all(e5.count_tokens(p) <= 128 for p in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())  # nothing lost


def test_each_distinct_text_is_counted_once_per_document() -> None:
    """The splitter measures the same candidates again and again; the memo counts each text once and
    the chunks are those of an unmemoised count."""
    hashing = get_embedder("hashing")
    seen: list[str] = []

    class Counting:
        name, model_id, dim, max_tokens = hashing.name, hashing.model_id, hashing.dim, hashing.max_tokens

        def count_tokens(self, text: str) -> int:
            seen.append(text)
            return hashing.count_tokens(text)

    doc = make_doc(3000, seed=3)
    chunks = chunk_text(doc, fmt="markdown", embedder=Counting(), max_tokens=64, overlap=8)  # type: ignore[arg-type]
    assert len(seen) == len(set(seen)) > 0
    assert chunks == chunk_text(doc, fmt="markdown", embedder=hashing, max_tokens=64, overlap=8)

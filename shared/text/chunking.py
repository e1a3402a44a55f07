"""Split extracted text into chunks sized in the embedder's own tokens.

semantic-text-splitter does the splitting (markdown-aware for markdown and for HTML, which extraction
renders as markdown), with ``embedder.count_tokens`` as its size callback. Four additions:

* A cheap lower bound speeds it up: the E5 tokenizer never emits fewer tokens than whitespace-separated
  words (+2 specials), so a text with more words than the capacity is "too big" without tokenising
  it. The splitter probes many oversized candidates; this skips most of those ~1 ms+ calls.
* A memo per document: the splitter measures the same candidate text again and again (about half of its
  calls on the bench corpus repeat an earlier one), so each distinct text is counted once.
* A cheaper count for the splitter's probes where the embedder has one (``estimate_tokens``: e5-small sums
  memoised per-word counts, ~30x faster than tokenising; ``shared/embedding/e5_words.py``). It only decides
  where to split and the ``tokens`` a chunk records; a chunk within ``_EXACT_MARGIN`` tokens of the model's
  window is counted with ``count_tokens`` as well, which is what the model sees.
* A guarantee: every chunk is re-counted (exactly, with ``count_tokens``, near the model's window) and any
  chunk over the capacity (which is never above the model window) is split further by words, or by
  characters for a single giant "word", counted exactly. A chunk the model silently truncates or blurs is
  lost content.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from semantic_text_splitter import MarkdownSplitter, TextSplitter

from shared.embedding.base import Embedder

MARKDOWN_FORMATS = frozenset({"markdown", "html"})
_EXACT_MARGIN = 8


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str
    tokens: int
    hash: str  # sha256 hex of the chunk text (vector reuse key)


def chunk_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sizer(count: Callable[[str], int], capacity: int) -> Callable[[str], int]:
    def size(text: str) -> int:
        lower = len(text.split()) + 2
        if lower > capacity:
            return lower  # certainly too big: no need to tokenise
        return count(text)

    return size


def _split_chars(text: str, count: Callable[[str], int], capacity: int) -> list[str]:
    """Largest prefixes (binary search on characters) that fit; for text without usable spaces."""
    pieces: list[str] = []
    rest = text
    while rest:
        if count(rest) <= capacity:
            pieces.append(rest)
            break
        lo, hi = 1, len(rest)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(rest[:mid]) <= capacity:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(rest[:lo])
        rest = rest[lo:]
    return pieces


def _split_words(text: str, count: Callable[[str], int], capacity: int) -> list[str]:
    """Greedy packing of whole words into pieces that fit (binary search for each piece's end)."""
    words = text.split()
    pieces: list[str] = []
    start = 0
    while start < len(words):
        if count(words[start]) > capacity:
            pieces.extend(_split_chars(words[start], count, capacity))
            start += 1
            continue
        lo, hi = start + 1, len(words)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(" ".join(words[start:mid])) <= capacity:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(" ".join(words[start:lo]))
        start = lo
    return pieces


def chunk_text(text: str, *, fmt: str, embedder: Embedder, max_tokens: int, overlap: int) -> list[Chunk]:
    """Chunks of at most ``min(max_tokens, embedder.max_tokens)`` tokens, ``overlap`` tokens shared."""
    capacity = min(max_tokens, embedder.max_tokens)
    if capacity < 16:
        raise ValueError(f"chunk capacity {capacity} is too small")
    overlap = max(0, min(overlap, capacity // 2))
    count = functools.lru_cache(maxsize=4096)(embedder.count_tokens)
    estimate: Callable[[str], int] | None = getattr(embedder, "estimate_tokens", None)
    fast = functools.lru_cache(maxsize=4096)(estimate) if estimate else count
    splitter_cls = MarkdownSplitter if fmt in MARKDOWN_FORMATS else TextSplitter
    splitter = splitter_cls.from_callback(_sizer(fast, capacity), (max(1, int(capacity * 0.8)), capacity),
                                          overlap=overlap)

    def measure(piece: str) -> int:
        tokens = fast(piece)
        # Near the model's window an estimate one token short would let the model blur the chunk.
        return count(piece) if tokens >= embedder.max_tokens - _EXACT_MARGIN else tokens

    chunks: list[Chunk] = []
    for piece in splitter.chunks(text):
        if not piece.strip():
            continue
        tokens = measure(piece)
        parts = [(piece, tokens)]
        if tokens > capacity:
            parts = [(p, count(p)) for p in _split_words(piece, count, capacity)]
        for part, part_tokens in parts:
            if part.strip():
                chunks.append(Chunk(ordinal=len(chunks), text=part, tokens=part_tokens, hash=chunk_hash(part)))
    return chunks

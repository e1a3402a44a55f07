"""``hashing``: a fast, deterministic *lexical* embedder (feature hashing), not a semantic model.

Lower-cased word unigrams and bigrams are hashed with BLAKE2b (stable across processes, unlike the
salted built-in ``hash``) into 384 signed buckets, weighted by sublinear term frequency
(``1 + ln tf``) and L2-normalised. Texts sharing words score high; synonyms do not. It exists for
benchmarks at 10k documents and for fast tests, where a real model would dominate the run time.
Hand-written because it is ~40 lines and no listed library offers a dependency-free equivalent.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from shared.embedding.base import l2_normalize
from shared.memory import register_cache

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\w+")


@functools.lru_cache(maxsize=16_384)  # the frequent features; a larger cache grew with the corpus
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return digest % dim, (1.0 if (digest >> 63) & 1 else -1.0)


register_cache(_bucket.cache_clear)  # emptied after each activity (shared/memory.py)


class HashingEmbedder:
    name = "hashing"
    dim = 384
    max_tokens = 8192
    model_id = f"harvest/hashing-blake2b-uni-bi@{dim}-v1"

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def _vector(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())
        features = Counter(words)
        features.update(f"{a} {b}" for a, b in itertools.pairwise(words))
        vector = np.zeros(self.dim, dtype=np.float32)
        for feature, tf in features.items():
            index, sign = _bucket(feature, self.dim)
            vector[index] += sign * (1.0 + math.log(tf))
        return vector

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalize(np.stack([self._vector(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return l2_normalize(self._vector(text))

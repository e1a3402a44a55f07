"""The embedder protocol every model implementation satisfies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    name: str
    """Registry name, e.g. ``"e5-small"``."""
    model_id: str
    """Stable model identity stored with every vector; vectors of different ids never mix."""
    dim: int
    max_tokens: int
    """The model's window in its own tokens, including special tokens and any prefix."""

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text`` embedded as a passage (prefix and specials included)."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, dim)`` float32, L2-normalised rows."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """``(dim,)`` float32, L2-normalised."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    normalized: np.ndarray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return normalized

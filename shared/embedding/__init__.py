"""Embedders behind one protocol, and a process-wide registry (one model load per process)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from shared.embedding.base import Embedder
from shared.errors import ConfigError

__all__ = ["Embedder", "available_embedders", "get_embedder"]


def _e5() -> Embedder:
    from shared.embedding.e5 import E5Embedder

    return E5Embedder()


def _hashing() -> Embedder:
    from shared.embedding.hashing import HashingEmbedder

    return HashingEmbedder()


def _azure_openai() -> Embedder:
    from shared.embedding.azure_openai import AzureOpenAIEmbedder
    from shared.settings import get_settings

    return AzureOpenAIEmbedder.from_settings(get_settings())


_FACTORIES: dict[str, Callable[[], Embedder]] = {"e5-small": _e5, "hashing": _hashing, "azure-openai": _azure_openai}
_CACHE: dict[str, Embedder] = {}
_LOCK = threading.Lock()


def available_embedders() -> list[str]:
    return sorted(_FACTORIES)


def get_embedder(name: str) -> Embedder:
    """The process-wide embedder called ``name`` (built on first use, then cached)."""
    embedder = _CACHE.get(name)
    if embedder is not None:
        return embedder
    with _LOCK:
        if name not in _CACHE:
            factory = _FACTORIES.get(name)
            if factory is None:
                raise ConfigError(
                    f"unknown embedder {name!r}",
                    [{"field": "HARVEST_EMBEDDER", "message": f"choose one of {available_embedders()}"}],
                )
            _CACHE[name] = factory()
        return _CACHE[name]

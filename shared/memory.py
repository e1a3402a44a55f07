"""Giving freed heap memory back to the operating system after each activity.

A long run allocates and frees a batch's worth of texts, chunks and vectors per activity, on several threads
(``asyncio.to_thread``, the worker's executor). glibc keeps what Python frees in per-thread arenas and only
returns memory at the very top of a heap, so the host's RSS creeps up with documents processed although
the live objects do not. ``malloc_trim(0)`` releases the free pages of every arena (``madvise``) — a few
milliseconds, called when an activity's context closes. Elsewhere (no glibc) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:  # pragma: no cover - no C library to load
        return None


def release_free_memory() -> bool:
    """Return free heap pages to the OS; ``True`` when something was released."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False

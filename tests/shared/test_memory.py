"""What kept the host's RSS growing with documents processed: freed heap memory glibc kept (returned after
each activity now) and the hashing embedder's feature cache, which grew with the corpus vocabulary."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shared.embedding import get_embedder
from shared.embedding.hashing import _bucket
from shared.memory import release_free_memory


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only")
def test_freed_memory_of_a_worker_thread_goes_back_to_the_os() -> None:
    kept: list[bytearray] = []

    def work() -> None:  # an activity's thread: ~120 MB in 2 KB blocks, freed except every 64th
        blocks = [bytearray(2048) for _ in range(60_000)]
        kept.extend(blocks[::64])

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    held = rss_kib()
    assert release_free_memory()
    assert held - rss_kib() > 50_000  # most of the freed 120 MB was returned
    assert len(kept) == 938


def test_the_hashing_feature_cache_is_bounded() -> None:
    _bucket.cache_clear()
    hashing = get_embedder("hashing")
    words = [f"w{i}x{i * 7919 % 10007}" for i in range(40_000)]
    hashing.embed_passages([" ".join(words[k : k + 400]) for k in range(0, len(words), 400)])
    assert _bucket.cache_info().currsize <= 16_384


def test_an_activity_ending_empties_the_process_wide_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caches that outlive a batch (hashing features, trafilatura's, e5 word counts) are emptied when an
    activity's context closes, so their entries do not keep the batch's arenas mapped."""
    import trafilatura
    from trafilatura.deduplication import LRU_TEST
    from trafilatura.utils import trim

    from shared import memory
    from shared.memory import clear_caches, register_cache

    get_embedder("hashing").embed_passages(["alpha beta gamma delta"])
    page = "<html><body><article><p>" + "Some words in a paragraph. " * 20 + "</p></article></body></html>"
    trafilatura.extract(page)
    cleared: list[int] = []
    monkeypatch.setattr(memory, "_caches", list(memory._caches))  # the registration below ends with the test
    register_cache(lambda: cleared.append(1))
    LRU_TEST.put("a text", 1)
    assert _bucket.cache_info().currsize > 0 and trim.cache_info().currsize > 0 and LRU_TEST.get("a text") == 1
    clear_caches()
    assert _bucket.cache_info().currsize == 0 and trim.cache_info().currsize == 0 and LRU_TEST.get("a text") == -1
    assert cleared == [1]


async def test_the_activity_context_releases_memory_when_it_closes(azurite: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.pipeline import context
    from shared.settings import Settings

    calls: list[str] = []
    monkeypatch.setattr(context, "release_memory", lambda: calls.append("released"))
    settings = Settings(storage_connection=azurite, container="memory-test", manifest=str(tmp_path / "s.yaml"))
    with pytest.raises(RuntimeError):
        async with context.open_context(settings):
            assert calls == []
            raise RuntimeError("the activity failed")
    assert calls == ["released"]  # also when the activity raised

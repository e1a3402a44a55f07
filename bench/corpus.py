"""A deterministic, seeded corpus of realistic prose for the benchmarks.

Text comes from a word-level Markov chain (order 2) trained on the bundled sample documents
(``samples/docs``, CC0 prose written for Harvest), so sentences read like encyclopedia paragraphs
rather than lorem ipsum. Document sizes follow a log-normal distribution (median ~700 words), clipped
to [40, 20,000] words: from a single paragraph to ~40 pages. Each document is a title, sections with
headings, and paragraphs of 1 to 7 sentences, written as Markdown (70 %), HTML pages with navigation and a
footer (20 %) or plain text (10 %).

Document ``i`` depends only on ``(seed, i)``, so the first 1,000 documents of a 10,000-document corpus
are the 1,000-document corpus. File modification times are set deterministically (the RSS and
sitemap views of the folder, ``bench/server.py``, derive their dates from them).

``edit_corpus`` is the daily change: one paragraph rewritten in 1 % of the documents, 0.5 % deleted.
"""

from __future__ import annotations

import html
import json
import math
import os
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINING = REPO_ROOT / "samples" / "docs"
BASE_MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z; document i was "published" i minutes later
EDIT_MTIME = BASE_MTIME + 400 * 86_400
MEDIAN_WORDS, SIGMA, MIN_WORDS, MAX_WORDS = 700, 1.0, 40, 20_000
FORMATS = (("md", 0.7), ("html", 0.9), ("txt", 1.0))
MANIFEST = "corpus.json"

_MARKUP = [
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images -> their text
    (re.compile(r"[*_`]+"), ""),  # emphasis and code marks
    (re.compile(r"<[^>]+>"), " "),  # inline HTML
]
_SKIP_LINE = re.compile(r"^\s*(#|\||```|>|-{3,}|={3,})")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_END = (".", "!", "?")


@dataclass
class Doc:
    """One generated document: a title and sections of (heading, paragraphs)."""

    index: int
    fmt: str
    title: str
    sections: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return f"{self.index // 1000:02d}/doc-{self.index:05d}.{self.fmt}"

    @property
    def words(self) -> int:
        return sum(len(p.split()) for _, paras in self.sections for p in paras)

    def paragraphs(self) -> list[tuple[int, int]]:
        return [(s, p) for s, (_, paras) in enumerate(self.sections) for p in range(len(paras))]


class Markov:
    """Order-2 word chain over sentences; ``sentence`` draws one from a given RNG."""

    def __init__(self, sentences: list[list[str]]) -> None:
        table: dict[tuple[str, str], list[str]] = {}
        for words in sentences:
            state = ("", "")
            for word in [*words, ""]:
                table.setdefault(state, []).append(word)
                state = (state[1], word)
        self.table = table

    def sentence(self, rnd: random.Random, max_words: int = 45) -> str:
        out: list[str] = []
        state = ("", "")
        while len(out) < max_words:
            word = rnd.choice(self.table[state])
            if not word:
                break
            out.append(word)
            state = (state[1], word)
        text = " ".join(out)
        return text if text.endswith(_END) else text.rstrip(",;:") + "."


def _training_sentences(folder: Path) -> list[list[str]]:
    sentences: list[list[str]] = []
    for path in sorted(folder.glob("*")):
        if path.suffix not in (".md", ".txt"):
            continue
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if _SKIP_LINE.match(line) or line.isupper():
                continue
            line = _LIST_MARK.sub("", line)
            for pattern, repl in _MARKUP:
                line = pattern.sub(repl, line)
            lines.append(line)
        text = " ".join(" ".join(lines).split())
        for sent in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text):
            words = sent.split()
            if len(words) >= 4 and sent.endswith(_END):
                sentences.append(words)
    return sentences


@lru_cache(maxsize=1)
def model() -> Markov:
    sentences = _training_sentences(TRAINING)
    if len(sentences) < 200:
        raise RuntimeError(f"too little training prose in {TRAINING} ({len(sentences)} sentences)")
    return Markov(sentences)


def _words_target(rnd: random.Random) -> int:
    value = math.exp(rnd.gauss(math.log(MEDIAN_WORDS), SIGMA))
    return int(min(MAX_WORDS, max(MIN_WORDS, value)))


def _heading(rnd: random.Random, chain: Markov) -> str:
    words = [w.strip(".,;:!?()\"'") for w in chain.sentence(rnd, 12).split()]
    words = [w for w in words if w][: rnd.randint(2, 6)] or ["Notes"]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def paragraph(rnd: random.Random, chain: Markov | None = None, sentences: int | None = None) -> str:
    chain = chain or model()
    count = sentences if sentences is not None else rnd.randint(1, 7)
    return " ".join(chain.sentence(rnd) for _ in range(max(1, count)))


def make_doc(seed: int, index: int) -> Doc:
    rnd = random.Random(f"harvest-bench:{seed}:{index}")
    chain = model()
    pick = rnd.random()
    fmt = next(name for name, upto in FORMATS if pick < upto)
    target = _words_target(rnd)
    doc = Doc(index=index, fmt=fmt, title=_heading(rnd, chain))
    total = 0
    while total < target:
        heading = _heading(rnd, chain) if doc.sections else ""
        paras: list[str] = []
        for _ in range(rnd.randint(2, 6)):
            para = paragraph(rnd, chain)
            paras.append(para)
            total += len(para.split())
            if total >= target:
                break
        doc.sections.append((heading, paras))
    return doc


def render(doc: Doc) -> str:
    if doc.fmt == "md":
        parts = [f"# {doc.title}"]
        for heading, paras in doc.sections:
            parts += ([f"## {heading}"] if heading else []) + paras
        return "\n\n".join(parts) + "\n"
    if doc.fmt == "txt":
        parts = [doc.title.upper()]
        for heading, paras in doc.sections:
            parts += ([heading] if heading else []) + paras
        return "\n\n".join(parts) + "\n"
    return html_page(doc.title, doc.sections)


def html_page(title: str, sections: list[tuple[str, list[str]]]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, paras in sections:
        if heading:
            body.append(f"<h2>{html.escape(heading)}</h2>")
        body += [f"<p>{html.escape(p)}</p>" for p in paras]
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head><body>\n"
        "<nav><a href=\"/\">Home</a> | <a href=\"/topics\">Topics</a> | <a href=\"/about\">About</a></nav>\n"
        "<main><article>\n" + "\n".join(body) + "\n</article></main>\n"
        "<footer><p>Published by the Harvest benchmark library. All rights reserved.</p></footer>\n"
        "</body></html>\n"
    )


def _write(root: Path, doc: Doc, mtime: int) -> None:
    path = root / "docs" / doc.doc_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(doc), encoding="utf-8")
    os.utime(path, (mtime, mtime))


def write_corpus(root: Path, n: int, seed: int = 1) -> dict[str, object]:
    """Write ``n`` documents under ``root/docs`` (idempotent: an existing identical corpus is kept)."""
    root = Path(root)
    meta_path = root / MANIFEST
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("n") == n and meta.get("seed") == seed and not meta.get("edited"):
            return dict(meta)
    words, formats = 0, {"md": 0, "html": 0, "txt": 0}
    for i in range(n):
        doc = make_doc(seed, i)
        _write(root, doc, BASE_MTIME + 60 * i)
        words += doc.words
        formats[doc.fmt] += 1
    meta = {"n": n, "seed": seed, "words": words, "formats": formats, "edited": None}
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def doc_ids(n: int, seed: int = 1) -> list[str]:
    return [make_doc(seed, i).doc_id for i in range(n)]


def edit_corpus(root: Path, *, edit_fraction: float = 0.01, delete_fraction: float = 0.005) -> dict[str, list[str]]:
    """Rewrite one paragraph in ``edit_fraction`` of the documents and delete ``delete_fraction``.

    Deterministic given the corpus seed; applied once (a second call is refused)."""
    root = Path(root)
    meta = json.loads((root / MANIFEST).read_text())
    if meta.get("edited"):
        raise RuntimeError(f"{root} was already edited")
    n, seed = int(meta["n"]), int(meta["seed"])
    rnd = random.Random(f"harvest-bench:{seed}:edit:{n}")
    chosen = rnd.sample(range(n), max(1, round(n * edit_fraction)) + max(1, round(n * delete_fraction)))
    n_edit = max(1, round(n * edit_fraction))
    edited, deleted = [], []
    for k, index in enumerate(sorted(chosen[:n_edit])):
        doc = make_doc(seed, index)
        s, p = rnd.choice(doc.paragraphs())
        heading, paras = doc.sections[s]
        old = paras[p]
        new = paragraph(rnd, sentences=max(1, old.count(". ") + 1))
        doc.sections[s] = (heading, [*paras[:p], new, *paras[p + 1 :]])
        _write(root, doc, EDIT_MTIME + k)
        edited.append(doc.doc_id)
    for index in sorted(chosen[n_edit:]):
        path = root / "docs" / make_doc(seed, index).doc_id
        path.unlink()
        deleted.append(make_doc(seed, index).doc_id)
    meta["edited"] = {"edited": edited, "deleted": deleted}
    (root / MANIFEST).write_text(json.dumps(meta, indent=1))
    return {"edited": edited, "deleted": deleted}

"""Reading the corpus: the current, non-deleted version of every document, and nearest-chunk search.

An unreadable document record or version blob is skipped, never fatal: readers pass an ``unreadable`` list
that collects the names of the blobs left out, to report them (``harvest verify`` explains and repairs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.embedding.base import Embedder
from shared.errors import CorruptBlobError
from shared.storage.blobs import BlobStore
from shared.storage.records import DocRecord, load_doc

EXPORT_FIELDS = ("chunk_id", "doc_id", "source_id", "url", "title", "ordinal", "text", "tokens",
                 "chunk_hash", "content_hash", "model", "run_id", "created_at", "vector")


async def current_documents(store: BlobStore, source_id: str | None = None, *,
                            unreadable: list[str] | None = None) -> list[DocRecord]:
    """Every live document record (all sources, or one), ordered by source and document id."""
    prefix = f"state/{source_id}/docs/" if source_id else "state/"
    docs: list[DocRecord] = []
    async for name in store.list_names(prefix):
        if "/docs/" not in name:
            continue
        try:
            rec = await load_doc(store, name)
        except CorruptBlobError:
            if unreadable is not None:
                unreadable.append(name)
            continue
        if rec is not None and not rec.deleted and rec.current:
            docs.append(rec)
    return sorted(docs, key=lambda d: (d.source_id, d.doc_id))


async def iter_chunks(store: BlobStore, source_id: str | None = None, *,
                      unreadable: list[str] | None = None) -> AsyncIterator[dict[str, Any]]:
    """The chunks of the current version of every live document, in a stable order. A document whose
    record or version blob cannot be read is left out, its blob name appended to ``unreadable``."""
    for rec in await current_documents(store, source_id, unreadable=unreadable):
        assert rec.current is not None
        try:
            rows = await store.read_jsonl(rec.current)
            if any(not isinstance(r.get("ordinal"), int) for r in rows):
                raise CorruptBlobError(rec.current, "a chunk has no ordinal")
        except CorruptBlobError:
            if unreadable is not None:
                unreadable.append(rec.current)
            continue
        for row in sorted(rows, key=lambda r: r["ordinal"]):
            yield {k: row.get(k) for k in EXPORT_FIELDS}


@dataclass(frozen=True)
class Hit:
    score: float
    chunk: dict[str, Any]


async def search(store: BlobStore, embedder: Embedder, text: str, k: int = 5, *,
                 unreadable: list[str] | None = None) -> list[Hit]:
    """Nearest chunks to ``text`` by cosine similarity (vectors are L2-normalised), best first.

    Only chunks embedded by ``embedder``'s model are compared (vectors of other models live in another
    space). A linear scan: fine for the corpora a laptop holds; production search belongs in an index.
    An empty ``text`` is a ``ValueError`` (it would match everything equally).
    """
    if not text.strip():
        raise ValueError("the query text is empty")
    query = embedder.embed_query(text).astype(np.float32)
    rows: list[dict[str, Any]] = []
    vectors: list[list[float]] = []
    async for row in iter_chunks(store, unreadable=unreadable):
        if row["model"] == embedder.model_id and row["vector"]:
            vectors.append(row["vector"])
            rows.append(row)
    if not rows:
        return []
    matrix = np.asarray(vectors, dtype=np.float32)
    scores = matrix @ query
    order = np.argsort(-scores)[:k]
    return [Hit(score=float(scores[i]), chunk=rows[i]) for i in order]

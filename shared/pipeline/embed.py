"""Embedding: vectors for a batch's chunks, reusing the vectors of chunks whose text did not change.

Reuse is keyed by (chunk hash, model): vectors come from the document's current corpus version when it
was embedded by the same model, and identical chunks inside the batch are embedded once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np

from shared.errors import CorruptBlobError
from shared.faults import crashpoint
from shared.models import BatchRef, SourceCounts, StageResult
from shared.pipeline.context import Context
from shared.pipeline.staging import read_stage, write_stage
from shared.storage import records

EMBED_BATCH = 32
_UNKNOWN: Any = object()
log = logging.getLogger("harvest.pipeline")


async def embed(ctx: Context, batch: BatchRef) -> StageResult:
    started = time.perf_counter()
    chunks = await read_stage(ctx.store, batch, "chunks")
    embedder = ctx.embedder
    known = ({} if batch.reembed or not chunks else
             await _previous_vectors(ctx, batch, {c["doc_id"] for c in chunks}, embedder.model_id))

    todo = sorted({c["hash"]: c["text"] for c in chunks if c["hash"] not in known}.items())
    reused = sum(1 for c in chunks if c["hash"] in known)

    def run() -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for i in range(0, len(todo), EMBED_BATCH):
            part = todo[i : i + EMBED_BATCH]
            vectors = np.round(np.asarray(embedder.embed_passages([text for _, text in part]), dtype=np.float64), 7)
            for (digest, _), vec in zip(part, vectors.tolist(), strict=True):
                out[digest] = vec
        return out

    fresh = await asyncio.to_thread(run) if todo else {}
    crashpoint("embed.computed")
    vectors = {**known, **fresh}
    rows = [{"doc_id": c["doc_id"], "ordinal": c["ordinal"], "hash": c["hash"],
             "vector": vectors[c["hash"]]} for c in chunks]
    await write_stage(ctx.store, batch, "vectors", rows)
    crashpoint("embed.staged")
    return StageResult(
        counts=SourceCounts(chunks_embedded=len(chunks) - reused, chunks_reused=reused),
        items=len(rows),
        seconds=time.perf_counter() - started,
    )


async def _previous_vectors(
    ctx: Context, batch: BatchRef, doc_ids: set[str], model_id: str
) -> dict[str, list[float]]:
    """Vectors of the current versions of the batch's changed documents. The fetch stage staged which
    version each one replaces (``previous``; ``None`` for a new document), so only those are read;
    rows staged without that field (an older run resumed) fall back to the document record."""
    previous = {row["doc_id"]: row.get("previous", _UNKNOWN) for row in await read_stage(ctx.store, batch, "texts")}
    found: dict[str, list[float]] = {}
    for doc_id in sorted(doc_ids):
        blob = previous.get(doc_id, _UNKNOWN)
        if blob is _UNKNOWN:
            rec = await records.read_doc(ctx.store, batch.source_id, doc_id)
            blob = rec.current if rec is not None else None
        if not blob:
            continue
        try:
            rows: list[dict[str, Any]] = await ctx.store.read_jsonl(blob)
        except CorruptBlobError as exc:  # nothing to reuse: its chunks are embedded again
            log.warning("%s; embedding its document's chunks again", exc)
            continue
        for row in rows:
            if row.get("model") == model_id and row.get("vector") is not None:
                found.setdefault(row["chunk_hash"], row["vector"])
    return found

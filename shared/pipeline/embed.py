"""Embedding: vectors for a batch's chunks, reusing the vectors of chunks whose text did not change.

Reuse is keyed by (chunk hash, model): vectors come from the document's current corpus version when it
was embedded by the same model, and identical chunks inside the batch are embedded once.

One call is bounded by work, not by the batch's document count: a budget of tokens and of seconds, well
inside the function timeout. A large batch is embedded over several calls, each staging what it made.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Budget:
    """How much one embed activity may do: ``tokens`` (the chunks' own counts) and ``seconds``. At least
    one sub-batch is embedded per call, so every call makes progress."""

    tokens: int
    seconds: float


def take(todo: list[tuple[str, str, int]], tokens: int) -> int:
    """How many of ``todo`` (hash, text, tokens) fit in ``tokens`` (at least one)."""
    used = 0
    for n, (_, _, count) in enumerate(todo):
        used += count
        if used > tokens:
            return max(1, n)
    return len(todo)


async def embed(ctx: Context, batch: BatchRef) -> StageResult:
    """Vectors for the batch's chunks, within the activity's budget (``HARVEST_EMBED_MAX_TOKENS``,
    ``HARVEST_EMBED_MAX_SECONDS``). Vectors made so far are staged after every call; a call that leaves
    chunks without a vector says ``more`` and the orchestrator calls again, which carries on from the
    staged vectors (also what a retry after a crash does)."""
    started = time.perf_counter()
    chunks = await read_stage(ctx.store, batch, "chunks")
    embedder = ctx.embedder
    settings = ctx.settings
    budget = Budget(tokens=settings.embed_max_tokens, seconds=settings.embed_max_seconds)
    known = ({} if batch.reembed or not chunks else
             await _previous_vectors(ctx, batch, {c["doc_id"] for c in chunks}, embedder.model_id))
    staged = {row["hash"]: row["vector"] for row in await read_stage(ctx.store, batch, "vectors")} if chunks else {}
    done = {**known, **staged}
    todo = sorted({c["hash"]: (c["hash"], c["text"], c["tokens"]) for c in chunks if c["hash"] not in done}.values())
    todo = todo[: take(todo, budget.tokens)]

    def run() -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for i in range(0, len(todo), EMBED_BATCH):
            if out and time.perf_counter() - started > budget.seconds:
                break
            part = todo[i : i + EMBED_BATCH]
            vectors = np.round(np.asarray(embedder.embed_passages([text for _, text, _ in part]), dtype=np.float64), 7)
            for (digest, _, _), vec in zip(part, vectors.tolist(), strict=True):
                out[digest] = vec
        return out

    fresh = await asyncio.to_thread(run) if todo else {}
    crashpoint("embed.computed")
    vectors = {**done, **fresh}
    rows = [{"doc_id": c["doc_id"], "ordinal": c["ordinal"], "hash": c["hash"], "vector": vectors[c["hash"]]}
            for c in chunks if c["hash"] in vectors]
    await write_stage(ctx.store, batch, "vectors", rows)
    crashpoint("embed.staged")
    more = len(rows) < len(chunks)
    return StageResult(
        # chunks embedded by this call; the reused ones are counted once, by the call that finishes the batch
        counts=SourceCounts(chunks_embedded=sum(1 for c in chunks if c["hash"] in fresh),
                            chunks_reused=0 if more else sum(1 for c in chunks if c["hash"] in known)),
        items=len(rows),
        seconds=time.perf_counter() - started,
        more=more,
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

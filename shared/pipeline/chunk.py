"""Chunking: split each new or changed document into chunks sized in the embedder's own tokens."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared.faults import crashpoint
from shared.models import BatchRef, StageResult
from shared.pipeline.context import Context
from shared.pipeline.staging import read_stage, write_stage
from shared.text.chunking import chunk_text


async def chunk(ctx: Context, batch: BatchRef) -> StageResult:
    started = time.perf_counter()
    texts = [row for row in await read_stage(ctx.store, batch, "texts") if row["status"] != "unchanged"]
    embedder = ctx.embedder
    settings = ctx.settings

    def split_all() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for row in texts:
            pieces = chunk_text(
                row["text"],
                fmt=row["format"],
                embedder=embedder,
                max_tokens=settings.chunk_tokens,
                overlap=settings.chunk_overlap,
            )
            out.extend(
                {"doc_id": row["doc_id"], "ordinal": c.ordinal, "text": c.text, "tokens": c.tokens, "hash": c.hash}
                for c in pieces
            )
        return out

    rows = await asyncio.to_thread(split_all)
    await write_stage(ctx.store, batch, "chunks", rows)
    crashpoint("chunk.staged")
    return StageResult(items=len(rows), seconds=time.perf_counter() - started)

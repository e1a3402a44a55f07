"""Preparing a batch: fetch and extract its documents, then chunk the new and changed ones — one activity.

Fetching (I/O) and chunking (CPU) of one batch always run one after the other, so as two activities they
only cost orchestration history (four events a call) and a Blob round trip; as one, a batch is three calls:
prepare, embed (repeated while its budget leaves chunks), commit. Both stages still stage what they made
(``texts``, then ``chunks``) so the write protocol is unchanged; a retry after a crash prepares the batch
again from its refs. Other batches' embedding overlaps this one's preparation (parallel batches)."""

from __future__ import annotations

from shared.models import BatchRef, PrepareResult
from shared.pipeline.chunk import chunk
from shared.pipeline.context import Context
from shared.pipeline.fetch import fetch
from shared.runs.outcome import after_fetch


async def prepare(ctx: Context, batch: BatchRef) -> PrepareResult:
    fetched = await fetch(ctx, batch)
    if after_fetch(fetched, dry_run=batch.dry_run) != "continue":
        return PrepareResult(fetch=fetched)
    return PrepareResult(fetch=fetched, chunk=await chunk(ctx, batch))

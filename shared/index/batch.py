"""Publishing from the batches: a batch's commit brings the documents it wrote in line in the search index,
inside its batch lane (docs/index.md, "Publishing from the batches").

Commit has just written the batch's versions and records and still holds what the index needs: for each new
or changed document its version's lines (chunk rows with their vectors) and its record as written, with the
record blob's new ETag; for a document whose text did not change, its record with the new ETag (a new change
hint). ``publish_batch`` brings them in line with the protocol of the end-of-source pass (``shared.index.sync``,
``Publisher.apply``): the ledger shards the batch touches are read, intents written first, one upsert for the
whole batch, stale keys deleted once acknowledged, and only what the index acknowledged recorded — with the
record's ETag, so the end-of-source pass, comparing listings with ledgers, reads nothing for these documents.
An unchanged document only has its ETag brought forward, and only when its entry is settled and holds the
record's current version (else the end-of-source pass reads it as it always did).

Best effort (``publish_committed``): a failure is logged and the commit stands. The end-of-source pass stays
the authority (deletions, tombstones, retired sources, whatever a batch could not publish), and correctness
never rests on this: every key reaches the index only after the ledger names it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from shared.index import generations, ledger
from shared.index.base import IndexTarget
from shared.index.reconcile import Doc, desired, holds, take_rows
from shared.index.sync import Pass, Publisher
from shared.models import PublishResult
from shared.pipeline.context import Context
from shared.storage import layout
from shared.storage.blobs import BlobStore
from shared.storage.records import DocRecord

log = logging.getLogger("harvest.index")
POINTS = ("index.batch_intent", "index.batch_sent")  # crash points (shared.faults)


@dataclass(frozen=True)
class Committed:
    """A document as commit left it: its record as written and the record blob's ETag then (as the service
    gives it); ``lines``: the version blob's lines when this commit wrote the version (``None``: the text was
    unchanged)."""

    record: DocRecord
    etag: str | None
    lines: list[dict[str, Any]] | None = None


async def publish_batch(store: BlobStore, target: IndexTarget, source_id: str, committed: list[Committed], *,
                        model_id: str, dim: int, batch_chunks: int = 1000) -> PublishResult:
    """Bring ``committed`` in line in the generation a publish pass for ``model_id`` writes into."""
    started = time.monotonic()
    where = await generations.writable(store, target, model_id, dim)
    pub = Publisher(store, target, source_id, where, batch_chunks=batch_chunks, points=POINTS)
    docs: list[tuple[Doc, bool]] = []
    for c in committed:
        if c.etag is None:
            continue
        doc = Doc(key=layout.doc_key(source_id, c.record.doc_id), record_blob=layout.doc_record_blob(
            source_id, c.record.doc_id), etag=c.etag.strip('"'), record=c.record)  # as a listing shows it
        doc.want, doc.other_model = desired(c.record, where.gen.model_id)
        if c.lines is not None and doc.want is not None:
            take_rows(doc, c.lines)
        docs.append((doc, c.lines is not None))
    wanted: dict[str, set[str]] = {}  # shard → the batch's keys in it: only those entries are parsed
    for d, _ in docs:
        wanted.setdefault(ledger.shard_of(d.key), set()).add(d.key)
    shards = sorted(wanted)
    read = await asyncio.gather(*(ledger.read_shard(store, pub.tid, where.gen.id, source_id, s, pub.seen,
                                                    keys=wanted[s]) for s in shards))
    entries = dict(zip(shards, read, strict=True))
    ready: list[Doc] = []
    for doc, written in docs:
        doc.entry = entries[ledger.shard_of(doc.key)].get(doc.key)
        if written or (doc.want is not None and doc.entry is not None and doc.entry.settled()
                       and holds(doc.entry, doc.want)):
            ready.append(doc)
    if ready:
        await pub.apply(ready, Pass())
    pub.result.target = f"{target.kind}:{where.physical}"
    pub.result.seconds = round(time.monotonic() - started, 4)
    return pub.result


async def publish_committed(ctx: Context, source_id: str, committed: list[Committed]) -> PublishResult | None:
    """``publish_batch`` into the configured target, bounded by ``HARVEST_INDEX_MAX_SECONDS``; never raises
    (``None`` when it did not publish: no index, turned off, or failed — logged)."""
    settings = ctx.settings
    if not committed or settings.index == "none" or not settings.index_in_batches:
        return None
    from shared.index import open_target

    try:
        async with open_target(settings) as target:
            assert target is not None
            embedder = ctx.embedder
            result = await asyncio.wait_for(
                publish_batch(ctx.store, target, source_id, committed, model_id=embedder.model_id, dim=embedder.dim,
                              batch_chunks=settings.index_batch_chunks),
                timeout=settings.index_max_seconds)
    except Exception as exc:  # best effort: the end-of-source pass brings these documents in line
        log.warning("source %s: a batch's documents were not published from its commit (the end-of-source pass "
                    "publishes them): %s", source_id, f"{type(exc).__name__}: {exc}"[:300])
        return None
    if result.failed:
        log.warning("source %s: the index refused %d keys of a batch (sent again by the end-of-source pass): %s",
                    source_id, result.failed, "; ".join(e.reason for e in result.errors)[:300])
    return result

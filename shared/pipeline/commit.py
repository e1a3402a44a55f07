"""Commit: write corpus versions, then the document records that point at them (never the reverse).

Idempotent under at-least-once execution: version blobs are named by content hash and chunking config
and created only if absent; a record already pointing at its version is left alone. Tombstones are
named by run id. The checkpoint is advanced by the orchestrator only after this returns.

Then, best effort, the batch's documents are published to the search index from what commit holds in
memory (``shared.index.batch``): a failure there is logged and never fails the commit.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from shared.faults import crashpoint
from shared.index.batch import Committed, publish_committed
from shared.models import BatchRef, DocumentRef, SourceCounts, StageResult
from shared.pipeline.context import Context
from shared.pipeline.staging import read_stage, write_stage
from shared.storage import layout
from shared.storage.blobs import JSONL_TYPE, BlobStore, dumps
from shared.storage.records import DocRecord, VersionInfo, doc_or_none, parse_doc

COMMIT_CONCURRENCY = 16
COMMITTED = "committed"  # staged rows for the hint index, merged in when the source finishes


async def commit(ctx: Context, batch: BatchRef) -> StageResult:
    started = time.perf_counter()
    texts = await read_stage(ctx.store, batch, "texts")
    vectors = await read_stage(ctx.store, batch, "vectors")
    chunks = await read_stage(ctx.store, batch, "chunks")
    by_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    vec_by_key = {(v["doc_id"], v["ordinal"]): v["vector"] for v in vectors}
    for c in chunks:
        by_doc[c["doc_id"]].append({**c, "vector": vec_by_key[(c["doc_id"], c["ordinal"])]})

    limit = asyncio.Semaphore(COMMIT_CONCURRENCY)
    committed: list[Committed] = []

    async def one(row: dict[str, Any]) -> None:
        async with limit:
            if row["status"] == "unchanged":
                done = await _touch(ctx, batch, row)
            else:
                done = await _write_version(ctx, batch, row, sorted(by_doc[row["doc_id"]],
                                                                    key=lambda c: c["ordinal"]))
            if done is not None:
                committed.append(done)

    await asyncio.gather(*(one(row) for row in texts))
    config = ctx.chunk_config_hash()
    await write_stage(ctx.store, batch, COMMITTED, [
        {"doc_id": r["doc_id"], "hint": r["hint"], "content_hash": r["content_hash"], "config": config}
        for r in texts
    ])
    published = await publish_committed(ctx, batch.source_id, committed)
    counts = SourceCounts()
    if published is not None:
        counts = SourceCounts(index_upserted=published.upserted, index_deleted=published.deleted)
    return StageResult(items=len(texts), counts=counts, seconds=time.perf_counter() - started)


async def commit_deletions(ctx: Context, batch: BatchRef) -> StageResult:
    started = time.perf_counter()
    refs = [DocumentRef.model_validate(r) for r in await read_stage(ctx.store, batch, "refs")]
    for ref in refs:
        await tombstone(ctx.store, batch.source_id, ref.doc_id, batch.run_id)
    await write_stage(ctx.store, batch, COMMITTED, [{"doc_id": r.doc_id, "deleted": True} for r in refs])
    return StageResult(counts=SourceCounts(deleted=len(refs)), items=len(refs),
                       seconds=time.perf_counter() - started)


async def tombstone(store: BlobStore, source_id: str, doc_id: str, run_id: str, reason: str | None = None) -> None:
    """Append a tombstone for the document, then mark its record deleted (its versions stay: history)."""
    body = {"doc_id": doc_id, "source_id": source_id, "run_id": run_id, "deleted_at": datetime.now(UTC).isoformat()}
    if reason:
        body["reason"] = reason
    await store.create_if_absent(layout.tombstone_blob(source_id, doc_id, run_id), dumps(body))

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        rec = doc_or_none(current)
        if rec is None:  # no record (or an unreadable one): nothing to mark
            return None
        return rec.model_copy(update={"deleted": True, "current": None,
                                      "updated_at": datetime.now(UTC)}).model_dump(mode="json")

    await store.update_json(layout.doc_record_blob(source_id, doc_id), change, heal=True)


async def _write_version(ctx: Context, batch: BatchRef, row: dict[str, Any],
                         chunks: list[dict[str, Any]]) -> Committed:
    source_id, doc_id, digest = batch.source_id, row["doc_id"], row["content_hash"]
    config = ctx.chunk_config_hash()
    blob = layout.version_blob(source_id, doc_id, digest, config, batch.run_id if batch.reembed else None)
    model = ctx.embedder.model_id
    now = datetime.now(UTC).isoformat()
    lines = [
        {
            "chunk_id": layout.chunk_id(source_id, doc_id, digest, c["ordinal"]),
            "doc_id": doc_id,
            "source_id": source_id,
            "url": row["url"],
            "title": row["title"],
            "ordinal": c["ordinal"],
            "text": c["text"],
            "tokens": c["tokens"],
            "chunk_hash": c["hash"],
            "content_hash": digest,
            "model": model,
            "vector": c["vector"],
            "run_id": batch.run_id,
            "created_at": now,
        }
        for c in chunks
    ]
    body = b"".join(dumps(line) + b"\n" for line in lines)
    await ctx.store.create_if_absent(blob, body, content_settings=JSONL_TYPE)
    crashpoint("commit.version")

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        # no record, or an unreadable one (healed: replaced by a fresh record for this version)
        rec = doc_or_none(current) or DocRecord(source_id=source_id, doc_id=doc_id, url=row["url"])
        if rec.current == blob and not rec.deleted:
            return rec.model_dump(mode="json")
        version = VersionInfo(content_hash=digest, blob=blob, run_id=batch.run_id,
                              at=datetime.now(UTC), chunks=len(lines))
        return rec.model_copy(update={
            "url": row["url"], "title": row["title"], "content_hash": digest, "hint": row["hint"],
            "current": blob, "model": model, "config": config, "deleted": False,
            "versions": [*rec.versions, version], "updated_at": datetime.now(UTC),
        }).model_dump(mode="json")

    name = layout.doc_record_blob(source_id, doc_id)
    value, etag = await ctx.store.update_json_etag(name, change, likely_absent=row["status"] == "new", heal=True)
    crashpoint("commit.record")
    return Committed(record=parse_doc(value, name), etag=etag, lines=lines)


async def _touch(ctx: Context, batch: BatchRef, row: dict[str, Any]) -> Committed | None:
    """Same text as the current version: remember the new change hint so discovery skips it next time."""

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        rec = doc_or_none(current)
        if rec is None:
            return None
        if rec.hint == row["hint"]:
            return current
        return rec.model_copy(update={"hint": row["hint"]}).model_dump(mode="json")

    name = layout.doc_record_blob(batch.source_id, row["doc_id"])
    value, etag = await ctx.store.update_json_etag(name, change, heal=True)
    return None if value is None else Committed(record=parse_doc(value, name), etag=etag)

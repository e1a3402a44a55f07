"""Claim-check helpers: the rows a batch carries between stages live in Blob, not in Durable payloads."""

from __future__ import annotations

from typing import Any

from shared.models import BatchRef
from shared.storage import layout
from shared.storage.blobs import BlobStore


async def read_stage(store: BlobStore, batch: BatchRef, stage: str) -> list[dict[str, Any]]:
    return await store.read_jsonl(layout.staging_blob(batch.run_id, batch.source_id, batch.batch_id, stage))


async def write_stage(store: BlobStore, batch: BatchRef, stage: str, rows: list[dict[str, Any]]) -> None:
    await store.write_jsonl(layout.staging_blob(batch.run_id, batch.source_id, batch.batch_id, stage), rows)

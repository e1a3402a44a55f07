"""Staged rows are versioned: rows from before versions read as version 1, rows of a newer version or a
wrong shape fail the batch permanently with a reason naming the blob (never a KeyError retried)."""

from __future__ import annotations

import pytest

from shared.errors import PermanentError, StagedSchemaError
from shared.failure_policy import classify
from shared.models import BatchRef
from shared.pipeline import chunk
from shared.pipeline.context import Context
from shared.pipeline.rows import SCHEMA_VERSION
from shared.pipeline.staging import read_stage, write_stage
from shared.storage import layout

BATCH = BatchRef(run_id="run-1", source_id="notes", batch_id="p00000-b000")
TEXT = {"status": "new", "doc_id": "a.md", "url": "file:///a.md", "content_hash": "h", "format": "markdown",
        "text": "# A\n\nA note about harbour pilots and the buoys they steer by."}


async def stage_raw(ctx: Context, stage: str, rows: list[dict[str, object]]) -> str:
    blob = layout.staging_blob(BATCH.run_id, BATCH.source_id, BATCH.batch_id, stage)
    await ctx.store.write_jsonl(blob, rows)
    return blob


async def test_rows_are_written_with_their_version_and_read_back(ctx: Context) -> None:
    await write_stage(ctx.store, BATCH, "texts", [TEXT])
    blob = layout.staging_blob(BATCH.run_id, BATCH.source_id, BATCH.batch_id, "texts")
    assert (await ctx.store.read_jsonl(blob))[0]["schema_version"] == SCHEMA_VERSION
    assert await read_stage(ctx.store, BATCH, "texts") == [{**TEXT, "schema_version": SCHEMA_VERSION}]


async def test_rows_staged_before_versions_read_as_they_were(ctx: Context) -> None:
    await stage_raw(ctx, "texts", [TEXT])  # no schema_version, no "previous": an absent field stays absent
    (row,) = await read_stage(ctx.store, BATCH, "texts")
    assert "previous" not in row and row["text"] == TEXT["text"]
    result = await chunk.chunk(ctx, BATCH)
    assert result.items >= 1


async def test_rows_of_a_newer_version_fail_the_batch_permanently(ctx: Context) -> None:
    blob = await stage_raw(ctx, "texts", [{**TEXT, "schema_version": SCHEMA_VERSION + 1, "renamed": "x"}])
    with pytest.raises(StagedSchemaError, match=f"{blob}: staged with schema version {SCHEMA_VERSION + 1}") as info:
        await chunk.chunk(ctx, BATCH)
    assert classify(info.value).permanent


async def test_a_row_missing_a_field_names_it(ctx: Context) -> None:
    blob = await stage_raw(ctx, "chunks", [{"doc_id": "a.md", "ordinal": 0, "text": "t", "tokens": 1}])
    with pytest.raises(PermanentError, match=f"{blob}: invalid ChunkRow: hash: is required"):
        await read_stage(ctx.store, BATCH, "chunks")
    with pytest.raises(PermanentError, match="status: Input should be 'new', 'changed' or 'unchanged'"):
        await write_stage(ctx.store, BATCH, "texts", [{**TEXT, "status": "fresh"}])


async def test_vectors_are_checked_in_place_not_copied(ctx: Context) -> None:
    """A vector goes through staging as the same list (no pydantic copies: they set the peak memory of a
    batch); ints are read as floats like the row model would; anything else names the blob and field."""
    vector = [0.25, -0.5, 1.0]
    row = {"doc_id": "a.md", "ordinal": 0, "hash": "h0", "vector": vector}
    await write_stage(ctx.store, BATCH, "vectors", [row])
    (read,) = await read_stage(ctx.store, BATCH, "vectors")
    assert read == {**row, "schema_version": SCHEMA_VERSION}
    from shared.pipeline.staging import _checked

    assert _checked("b", "vectors", row)["vector"] is vector
    assert _checked("b", "vectors", {**row, "vector": [1, 0.5]})["vector"] == [1.0, 0.5]
    blob = await stage_raw(ctx, "vectors", [{**row, "vector": [0.1, "x"]}])
    with pytest.raises(PermanentError, match=f"{blob}: vector: Input should be a list of numbers"):
        await read_stage(ctx.store, BATCH, "vectors")
    blob = await stage_raw(ctx, "vectors", [{**row, "vector": None}])
    with pytest.raises(PermanentError, match=f"{blob}: vector: Input should be a valid list"):
        await read_stage(ctx.store, BATCH, "vectors")
    blob = await stage_raw(ctx, "vectors", [{**row, "hash": None}])
    with pytest.raises(PermanentError, match=f"{blob}: invalid VectorRow: hash"):
        await read_stage(ctx.store, BATCH, "vectors")

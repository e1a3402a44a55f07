"""Claim-check helpers: the rows a batch carries between stages live in Blob, not in Durable payloads.
Each stage's rows have a versioned model (``shared.pipeline.rows``), checked on write and on read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from shared.config.messages import describe_validation
from shared.errors import PermanentError, StagedSchemaError
from shared.models import BatchRef
from shared.pipeline.rows import ROWS, SCHEMA_VERSION
from shared.storage import layout
from shared.storage.blobs import BlobStore


def _blob(batch: BatchRef, stage: str) -> str:
    return layout.staging_blob(batch.run_id, batch.source_id, batch.batch_id, stage)


# Fields checked in place instead of through the row model: pydantic would copy a vector twice (validate,
# then dump) — for a batch of ~2,000 chunks that is ~50 MB of float objects made only to be thrown away,
# and with 4 batches in flight the copies set the host's peak memory.
NUMBER_LISTS = {"vectors": "vector"}


def _numbers(blob: str, field: str, value: Any) -> list[float]:
    """``value`` itself when it is a list of floats (as a vector is written and read back); ints become
    floats, as the row model would make them; anything else is the row model's error."""
    if not isinstance(value, list):
        raise PermanentError(f"{blob}: {field}: Input should be a valid list")
    if all(type(x) is float for x in value):
        return value
    if all(type(x) in (float, int) for x in value):
        return [float(x) for x in value]
    raise PermanentError(f"{blob}: {field}: Input should be a list of numbers")


def _checked(blob: str, stage: str, row: Mapping[str, Any]) -> dict[str, Any]:
    version = row.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise StagedSchemaError(f"{blob}: staged with schema version {version!r}; this Harvest reads up to "
                                f"{SCHEMA_VERSION} (was the app rolled back while a run was in flight?)")
    field = NUMBER_LISTS.get(stage, "")
    numbers = _numbers(blob, field, row[field]) if field in row else None
    if numbers is not None:
        row = {**row, field: []}  # the rest of the row through the model; the list is already checked
    try:
        model = ROWS[stage].model_validate(row)
    except ValidationError as exc:
        raise PermanentError(f"{blob}: {describe_validation(exc)}") from None
    out: dict[str, Any] = model.model_dump(mode="json", exclude_unset=True)  # an absent field stays absent
    if numbers is not None:
        out[field] = numbers
    out["schema_version"] = SCHEMA_VERSION
    return out


async def read_stage(store: BlobStore, batch: BatchRef, stage: str) -> list[dict[str, Any]]:
    blob = _blob(batch, stage)
    return [_checked(blob, stage, row) for row in await store.read_jsonl(blob)]


async def write_stage(store: BlobStore, batch: BatchRef, stage: str, rows: Sequence[Mapping[str, Any]]) -> None:
    blob = _blob(batch, stage)
    await store.write_jsonl(blob, [_checked(blob, stage, row) for row in rows])

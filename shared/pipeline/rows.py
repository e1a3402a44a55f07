"""The rows a batch stages in Blob between stages (``runs/{run}/sources/{source}/{batch}/{stage}.jsonl``):
discover → ``refs`` → fetch → ``texts`` → chunk → ``chunks`` → embed → ``vectors`` → commit → ``committed``.

Staged blobs outlive a deploy when a run resumes, so every row carries ``schema_version``: rows without
it were written before versions existed (version 1, the same shape); rows of a newer version than
``SCHEMA_VERSION`` cannot be read safely and fail the batch with a ``StagedSchemaError``. Bump the version
when a field changes meaning or becomes required, and keep reading the previous one."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.models import DocumentRef

SCHEMA_VERSION = 1


class StagedRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: int = 1


class RefRow(StagedRow, DocumentRef):
    """A document discovery found (``refs``; also the vanished documents of a deletions batch)."""


class TextRow(StagedRow):
    """A fetched document (``texts``): classified by content checksum; new and changed ones carry text."""

    status: Literal["new", "changed", "unchanged"]
    doc_id: str
    url: str
    title: str | None = None
    hint: str | None = None
    updated: str | None = None
    content_hash: str | None = None
    format: str | None = None
    previous: str | None = None  # the version whose vectors embedding may reuse (absent: look it up)
    text: str | None = None


class ChunkRow(StagedRow):
    doc_id: str
    ordinal: int
    text: str
    tokens: int
    hash: str


class VectorRow(StagedRow):
    doc_id: str
    ordinal: int
    hash: str
    vector: list[float]


class CommittedRow(StagedRow):
    """What commit recorded for a document (``committed``): merged into the hint index at the end."""

    doc_id: str
    hint: str | None = None
    content_hash: str | None = None
    config: str | None = None
    deleted: bool = False


ROWS: dict[str, type[StagedRow]] = {"refs": RefRow, "texts": TextRow, "chunks": ChunkRow, "vectors": VectorRow,
                                    "committed": CommittedRow}

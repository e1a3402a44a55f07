"""What an index target is: the protocol the publish stage writes through, and what it answers.

A target holds index *generations* (one per embedding model and rebuild: ``shared.index.keys``), each in
its own physical index, and shows readers one of them under the reader-facing name. Writes answer with
the chunk ids the index acknowledged; a key the target could not write (after its own retries) is
reported with a reason and stays un-acknowledged in the ledger, to be sent again on the next pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# the fields of one index document (one live chunk); ``vector`` is the embedding, the rest provenance
FIELDS = ("chunk_id", "doc_id", "source_id", "url", "title", "ordinal", "text", "content_hash", "model", "run_id",
          "created_at", "vector")


@dataclass
class WriteOutcome:
    acked: set[str] = field(default_factory=set)  # chunk ids the index acknowledged
    failed: dict[str, str] = field(default_factory=dict)  # chunk id → why (not written; sent again next pass)

    def add(self, other: WriteOutcome) -> None:
        self.acked |= other.acked
        self.failed.update(other.failed)
        for key in other.acked:
            self.failed.pop(key, None)


@dataclass(frozen=True)
class IndexHit:
    score: float
    chunk: dict[str, Any]


@dataclass(frozen=True)
class Generation:
    """One index generation: the vectors of one model (``dim`` wide), in physical index ``physical``."""

    id: str
    model_id: str
    dim: int


class IndexTarget(Protocol):
    kind: str  # "lancedb" | "azure-search"
    name: str  # what readers query (LanceDB table, Azure AI Search alias)
    locator: str  # where it lives (a directory, an endpoint): part of the ledger's name

    def physical(self, generation: Generation, *, active: bool) -> str:
        """The physical index holding ``generation`` (``active``: the one readers see)."""
        ...

    async def ensure(self, physical: str, generation: Generation) -> str:
        """Create the physical index if absent (or bring its definition up to date); returns its instance
        marker (changes when the index was dropped and made again behind Harvest's back)."""
        ...

    async def instance(self, physical: str) -> str | None:
        """The physical index's instance marker, ``None`` when it does not exist."""
        ...

    async def upsert(self, physical: str, rows: list[dict[str, Any]]) -> WriteOutcome:
        ...

    async def delete(self, physical: str, chunk_ids: list[str]) -> WriteOutcome:
        ...

    async def chunk_ids(self, physical: str, source_id: str | None = None) -> set[str]:
        """Every chunk id the physical index holds (of one source)."""
        ...

    async def count(self, physical: str) -> int:
        ...

    async def promote(self, physical: str, generation: Generation) -> None:
        """Make readers of ``name`` see ``physical`` (atomically for them)."""
        ...

    async def reader_index(self) -> str | None:
        """The physical index readers of ``name`` see now (``None``: nothing published yet)."""
        ...

    async def drop(self, physical: str) -> None:
        ...

    async def search(self, vector: list[float], text: str | None, k: int, *,
                     source_id: str | None = None, index: str | None = None) -> list[IndexHit]:
        """The ``k`` chunks nearest ``vector`` in what readers see (or in physical ``index``); with ``text``:
        hybrid (vector + full text, fused by reciprocal rank), where the index supports it."""
        ...

    async def close(self) -> None:
        ...


def index_row(chunk: dict[str, Any]) -> dict[str, Any]:
    """The index document of one corpus chunk (a line of a version blob)."""
    return {k: chunk.get(k) for k in FIELDS}

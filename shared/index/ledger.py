"""The publish ledger: per index generation and source, what the index has *acknowledged*, in Blob.

One blob per shard of a source's documents (``doc_key``'s first hex digit: 16 shards), each a map
``doc_key → Entry``. An entry names the version whose chunks the index holds (``acked``), the versions whose
chunks it *may* hold (``pending``: an upload was sent but not yet acknowledged in full, or a delete was
not), and the ETag of the document record when the two last agreed (``etag``): a record with that ETag
needs no work, so an unchanged re-run reads listings and ledgers and sends nothing.

The write-ahead rule that makes kill -9 safe: before chunks of a version are sent, the version is added
to ``pending`` (an ETag-conditional write); only keys the index acknowledged move a version to ``acked``
or take it out of ``pending``. Every key the index can hold is therefore named by the ledger, so a later
pass deletes what it must even if a crash came between the index's answer and the ledger write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import CorruptBlobError
from shared.storage import layout
from shared.storage.blobs import BlobStore

SHARDS = "0123456789abcdef"
REPAIR = "run `harvest index verify --repair` (it compares the index's keys with the corpus and re-syncs)"


class Version(BaseModel):
    """A document version as the index sees it: its blob, content hash and chunk ordinals."""

    model_config = ConfigDict(extra="ignore")
    blob: str | None = None
    content_hash: str
    ordinals: int | list[int] = Field(description="n (ordinals 0..n-1) or the ordinals themselves")

    def ordinal_list(self) -> list[int]:
        return list(range(self.ordinals)) if isinstance(self.ordinals, int) else list(self.ordinals)

    def ids(self, source_id: str, doc_id: str) -> set[str]:
        return {layout.chunk_id(source_id, doc_id, self.content_hash, o) for o in self.ordinal_list()}

    @staticmethod
    def compact(ordinals: list[int]) -> int | list[int]:
        ordered = sorted(ordinals)
        return len(ordered) if ordered == list(range(len(ordered))) else ordered


class Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    doc_id: str
    etag: str | None = None
    acked: Version | None = None
    pending: list[Version] = Field(default_factory=list)
    other_model: bool = False  # live, but embedded by another model than this index's

    def present_ids(self, source_id: str) -> set[str]:
        """Every key of this document the index may hold."""
        out: set[str] = set()
        for v in [self.acked, *self.pending]:
            if v is not None:
                out |= v.ids(source_id, self.doc_id)
        return out

    def settled(self) -> bool:
        return not self.pending


Shard = dict[str, Entry]


def shard_of(doc_key: str) -> str:
    return doc_key[0]


def doc_key_of(record_blob: str) -> str:
    """``state/{source}/docs/{doc_key}.json`` → ``doc_key``."""
    return record_blob.rsplit("/", 1)[-1].removesuffix(".json")


def _docs(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    docs = value.get("docs") if isinstance(value, dict) else None
    if not isinstance(docs, dict):
        raise CorruptBlobError(name, "not a ledger shard", fix=REPAIR)
    return docs


def _parse(value: Any, name: str, keys: set[str] | None = None) -> Shard:
    docs = _docs(value, name)
    try:
        return {key: Entry.model_validate(e) for key, e in docs.items() if keys is None or key in keys}
    except ValidationError as exc:
        raise CorruptBlobError(name, f"not a ledger entry: {exc.errors()[0]['msg']}", fix=REPAIR) from None


def _dump(shard: Shard) -> dict[str, Any]:
    return {"docs": {k: e.model_dump(mode="json", exclude_defaults=True) for k, e in sorted(shard.items())}}


Seen = dict[str, tuple[Any, str | None]]  # ledger blob → its value and ETag as a writer last saw them


async def read_shard(store: BlobStore, target: str, generation: str, source_id: str, shard: str,
                     seen: Seen | None = None, keys: set[str] | None = None) -> Shard:
    """One ledger shard (empty when absent); ``CorruptBlobError`` naming the repair when unreadable: a
    ledger that cannot be read cannot say which keys the index holds, so it is never silently reset.
    ``seen``: where to remember the blob's value and ETag for a later ``update_shard``. ``keys``: only these
    entries are parsed and returned (as in ``update_shard``: a batch needs a few entries of a shard)."""
    name = layout.ledger_blob(target, generation, source_id, shard)
    value, etag = await store.read_json(name)
    entries = _parse(value, name, keys)
    if seen is not None:
        seen[name] = (value, etag)
    return entries


async def update_shard(store: BlobStore, target: str, generation: str, source_id: str, shard: str,
                       change: Callable[[Shard], None], seen: Seen | None = None,
                       keys: set[str] | None = None) -> Shard:
    """Apply ``change`` (which edits the shard in place; pure: it may run again after a 412) under an ETag
    condition. Only the entries ``change`` touches move, so two writers of one shard never undo each other.
    ``seen``: the shard as this writer last read or wrote it — the first attempt writes on it without reading
    (a 412 if another writer came between: then it reads); updated with what this call wrote. ``keys``: the
    only entries ``change`` looks at or edits — the others are carried over as stored, neither parsed nor
    dumped (a shard holds a sixteenth of the source; a batch touches a few of its entries); the shard
    returned then holds only those."""
    name = layout.ledger_blob(target, generation, source_id, shard)
    result: Shard = {}

    def apply(current: Any) -> dict[str, Any] | None:
        nonlocal result
        entries = _parse(current, name, keys)
        change(entries)
        result = entries
        if keys is None:
            out = _dump(entries)
        else:
            docs = {k: v for k, v in _docs(current, name).items() if k not in keys}
            docs.update(_dump({k: e for k, e in entries.items() if k in keys})["docs"])
            out = {"docs": dict(sorted(docs.items()))}
        if not out["docs"] and current is None:
            return None
        return out

    known = seen.pop(name, None) if seen is not None else None
    value, etag = await store.update_json_etag(name, apply, known=known)
    if seen is not None and value is not None:
        seen[name] = (value, etag)
    return result


async def read_status(store: BlobStore, target: str, generation: str, source_id: str) -> dict[str, Any] | None:
    value, _ = await store.read_json(layout.ledger_status_blob(target, generation, source_id))
    return value if isinstance(value, dict) else None


async def write_status(store: BlobStore, target: str, generation: str, source_id: str, status: dict[str, Any]) -> None:
    await store.write_json(layout.ledger_status_blob(target, generation, source_id), status)


async def ledger_ids(store: BlobStore, target: str, generation: str, source_id: str) -> set[str]:
    """Every key the ledger says the index may hold for the source."""
    out: set[str] = set()
    for shard in SHARDS:
        for entry in (await read_shard(store, target, generation, source_id, shard)).values():
            out |= entry.present_ids(source_id)
    return out

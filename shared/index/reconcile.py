"""One document in a publish: what the index should hold for it (from its record), the rows to upload, the
keys that may be stale, and its ledger entry before (the write-ahead intent) and after the index answered.
Pure functions, shared by the end-of-source pass (``sync``) and the batches' publishing (``batch``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.index.base import index_row
from shared.index.ledger import Entry, Version
from shared.storage.records import DocRecord


@dataclass
class Doc:
    key: str
    record_blob: str | None
    etag: str | None = None
    record: DocRecord | None = None
    entry: Entry | None = None
    want: Version | None = None  # what the index should hold
    other_model: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        if self.record is not None:
            return self.record.doc_id
        assert self.entry is not None
        return self.entry.doc_id



def desired(rec: DocRecord | None, model_id: str) -> tuple[Version | None, bool]:
    """What the index of ``model_id`` should hold for a document whose record is ``rec``: its current version
    (chunk count from the record) if it is live and embedded by that model, else nothing; and whether it is
    live in another model."""
    if rec is None or rec.deleted or not rec.current or not rec.content_hash:
        return None, False
    if rec.model != model_id:
        return None, True
    count = next((v.chunks for v in reversed(rec.versions) if v.blob == rec.current), 0)
    return Version(blob=rec.current, content_hash=rec.content_hash, ordinals=count), False


def take_rows(doc: Doc, lines: list[dict[str, Any]]) -> None:
    """The index rows of ``doc``'s wanted version from its version blob's lines; a version with no lines or a
    malformed one is not live (out of the corpus, so out of the index)."""
    good = [line for line in lines if isinstance(line.get("ordinal"), int) and line.get("chunk_id")]
    if not good or len(good) != len(lines) or doc.want is None:
        doc.want, doc.rows = None, []
        return
    doc.rows = [index_row(line) for line in sorted(good, key=lambda r: r["ordinal"])]
    doc.want = doc.want.model_copy(update={"ordinals": Version.compact([r["ordinal"] for r in doc.rows])})


def vkey(v: Version) -> tuple[str | None, str]:
    return v.blob, v.content_hash


def holds(entry: Entry | None, want: Version) -> bool:
    """The index already holds every chunk of ``want`` (acknowledged)."""
    return entry is not None and entry.acked is not None and vkey(entry.acked) == vkey(want)


def stale_ids(doc: Doc, source_id: str) -> set[str]:
    """Keys of the document the index may hold that it should not."""
    if doc.entry is None:
        return set()
    keep = doc.want.ids(source_id, doc.doc_id) if doc.want is not None else set()
    return doc.entry.present_ids(source_id) - keep


def intent(doc: Doc) -> Entry:
    assert doc.want is not None
    entry = doc.entry or Entry(doc_id=doc.doc_id)
    pending = [v for v in entry.pending if vkey(v) != vkey(doc.want)]
    return entry.model_copy(update={"etag": None, "pending": [*pending, doc.want]})


def after(doc: Doc, uploaded: bool, deleted: set[str], source_id: str) -> Entry | None:
    """The document's ledger entry once the index answered: what it acknowledged, nothing more."""
    entry = doc.entry or Entry(doc_id=doc.doc_id)
    want = doc.want
    has_want = want is not None and (uploaded or holds(doc.entry, want))
    if want is not None and not has_want:  # the upload was not acknowledged in full; nothing was deleted
        acked = entry.acked
        pending = [*[v for v in entry.pending if vkey(v) != vkey(want)], want]
    else:
        acked = want if has_want else None
        keep = want.ids(source_id, doc.doc_id) if want is not None else set()
        pending = []
        for v in [entry.acked, *entry.pending]:
            if v is None or (acked is not None and vkey(v) == vkey(acked)):
                continue
            if v.ids(source_id, doc.doc_id) - keep - deleted and vkey(v) not in {vkey(p) for p in pending}:
                pending.append(v)
    settled = not pending and (acked is None if want is None else has_want)
    if doc.record is None and settled:
        return None  # its record is gone and the index holds nothing of it: forget it
    return Entry(doc_id=doc.doc_id, etag=doc.etag if settled else None, acked=acked, pending=pending,
                 other_model=doc.other_model)

"""``harvest verify [--repair]``: check the stored corpus against its records, and repair what is broken by
making the next run ingest it again.

Checks, per source: the checkpoint and the hint index can be read; every document record can be read; the
current version of every live record exists, parses, and holds the chunks the record says (so they are in
the export); every live hint entry has a live record with the same content hash (the hint index otherwise
hides the document from discovery for good).

Repairs only remove what is broken or what would hide it, so change detection sees those documents as new:
an unreadable record or checkpoint is replaced (a fresh checkpoint asks for a full read), a broken current
version is deleted and its record forgets it, and the hint entries of every affected document are dropped.
The next run then fetches, embeds and commits them again; nothing readable is deleted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shared.errors import CorruptBlobError
from shared.storage import hints, layout, records
from shared.storage.blobs import BlobStore
from shared.storage.records import Checkpoint, DocRecord

KINDS = {
    "checkpoint_unreadable": "the source checkpoint cannot be read",
    "hints_unreadable": "the hint index cannot be read",
    "record_unreadable": "a document record cannot be read",
    "record_missing": "the hint index lists a document that has no live record (discovery skips it)",
    "hint_mismatch": "the hint index disagrees with the document record",
    "version_missing": "the current version blob of a live document does not exist",
    "version_unreadable": "the current version blob of a live document cannot be read",
    "chunks_mismatch": "the current version blob does not hold the chunks its record says",
}


@dataclass
class Problem:
    kind: str
    source_id: str
    blob: str
    doc_id: str | None = None
    detail: str = ""
    repaired: bool = False


@dataclass
class SourceCheck:
    source_id: str
    documents: int = 0
    live: int = 0
    problems: list[Problem] = field(default_factory=list)
    skipped: str | None = None  # why repair left this source alone


@dataclass
class VerifyReport:
    sources: list[SourceCheck]
    repaired: bool = False

    @property
    def problems(self) -> list[Problem]:
        return [p for s in self.sources for p in s.problems]

    def to_json(self) -> dict[str, Any]:
        return {"ok": not self.problems, "repaired": self.repaired,
                "problems": [asdict(p) for p in self.problems],
                "sources": [{"source_id": s.source_id, "documents": s.documents, "live": s.live,
                             "problems": len(s.problems), "repair_skipped": s.skipped} for s in self.sources]}


async def stored_sources(store: BlobStore) -> list[str]:
    """Every source id with state in the container (``state/{source}/...``)."""
    found: set[str] = set()
    async for name in store.list_names("state/"):
        found.add(name.split("/", 2)[1])
    return sorted(found)


async def _check_version(store: BlobStore, rec: DocRecord, name: str) -> Problem | None:
    current = rec.current
    assert current is not None

    def problem(kind: str, detail: str) -> Problem:
        return Problem(kind=kind, source_id=rec.source_id, blob=current, doc_id=rec.doc_id, detail=detail)

    if not await store.exists(current):
        return problem("version_missing", f"record {name} points at it")
    try:
        rows = await store.read_jsonl(current)
    except CorruptBlobError as exc:
        return problem("version_unreadable", exc.detail)
    expected = next((v.chunks for v in reversed(rec.versions) if v.blob == current), None)
    ordinals: list[int] = sorted(r["ordinal"] for r in rows if isinstance(r.get("ordinal"), int))
    if len(ordinals) != len(rows) or ordinals != list(range(len(rows))) or (
            expected is not None and expected != len(rows)):
        return problem("chunks_mismatch", f"{len(rows)} chunk(s), the record says {expected}")
    return None


async def check_source(store: BlobStore, source_id: str) -> SourceCheck:
    check = SourceCheck(source_id=source_id)
    add = check.problems.append
    try:
        await records.read_checkpoint(store, source_id)
    except CorruptBlobError as exc:
        add(Problem(kind="checkpoint_unreadable", source_id=source_id, blob=exc.blob, detail=exc.detail))
    index: dict[str, dict[str, Any]] = {}
    try:
        value, _ = await store.read_json(layout.hints_blob(source_id))
        docs = value.get("docs") if isinstance(value, dict) else None
        index = docs if isinstance(docs, dict) else {}
    except CorruptBlobError as exc:
        add(Problem(kind="hints_unreadable", source_id=source_id, blob=exc.blob, detail=exc.detail))
    by_blob = {layout.doc_record_blob(source_id, doc_id): doc_id for doc_id in index}
    live: dict[str, DocRecord] = {}
    async for name in store.list_names(layout.docs_prefix(source_id)):
        check.documents += 1
        try:
            rec = await records.load_doc(store, name)
        except CorruptBlobError as exc:
            add(Problem(kind="record_unreadable", source_id=source_id, blob=name, detail=exc.detail,
                        doc_id=by_blob.get(name)))
            continue
        if rec is None or rec.deleted or not rec.current:
            continue
        check.live += 1
        live[rec.doc_id] = rec
        if (problem := await _check_version(store, rec, name)) is not None:
            add(problem)
    for doc_id, entry in sorted(index.items()):
        if not isinstance(entry, dict) or entry.get("deleted"):
            continue
        rec = live.get(doc_id)
        blob = layout.doc_record_blob(source_id, doc_id)
        if rec is None:
            if not any(p.blob == blob for p in check.problems):
                add(Problem(kind="record_missing", source_id=source_id, blob=blob, doc_id=doc_id,
                            detail="listed live in the hint index"))
        elif entry.get("content_hash") != rec.content_hash:
            add(Problem(kind="hint_mismatch", source_id=source_id, blob=layout.hints_blob(source_id),
                        doc_id=doc_id, detail="content hash differs from the record"))
    return check


async def verify(store: BlobStore, source_ids: list[str] | None = None) -> VerifyReport:
    ids = source_ids if source_ids is not None else await stored_sources(store)
    return VerifyReport(sources=[await check_source(store, sid) for sid in ids])


async def _forget_current(store: BlobStore, problem: Problem) -> None:
    """Delete the broken version blob and make the record forget it, so the next run writes it again."""
    await store.delete(problem.blob)

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        rec = records.doc_or_none(current)
        if rec is None or rec.current != problem.blob:
            return None
        return rec.model_copy(update={"current": None, "content_hash": None, "hint": None}).model_dump(mode="json")

    await store.update_json(layout.doc_record_blob(problem.source_id, problem.doc_id or ""), change, heal=True)


async def _drop_hints(store: BlobStore, source_id: str, doc_ids: set[str]) -> None:
    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        docs = current.get("docs") if isinstance(current, dict) else None
        if current is None or not isinstance(docs, dict) or not doc_ids & docs.keys():
            return None
        return {**current, "docs": {k: v for k, v in docs.items() if k not in doc_ids}}

    await store.update_json(layout.hints_blob(source_id), change, heal=True)


async def _active_run(store: BlobStore, source_id: str) -> str | None:
    try:
        return (await records.read_checkpoint(store, source_id)).active_run
    except CorruptBlobError:
        return None


async def repair(store: BlobStore, report: VerifyReport) -> VerifyReport:
    """Repair every problem of ``report`` (see the module notes); the next run re-ingests what was missing."""
    for check in report.sources:
        if check.problems and (run := await _active_run(store, check.source_id)):
            check.skipped = f"run {run} is processing this source: repair it after that run ends"
            continue
        doc_ids: set[str] = set()
        for p in check.problems:
            if p.kind == "checkpoint_unreadable":
                fresh = Checkpoint(source_id=p.source_id, reset_requested=True).model_dump(mode="json")
                await store.write_json(p.blob, fresh)
            elif p.kind in ("hints_unreadable", "record_unreadable"):
                await store.delete(p.blob)
            elif p.kind in ("version_missing", "version_unreadable", "chunks_mismatch"):
                await _forget_current(store, p)
            if p.doc_id:
                doc_ids.add(p.doc_id)
            p.repaired = True
        if doc_ids:
            await _drop_hints(store, check.source_id, doc_ids)
    hints._cache.clear()
    report.repaired = True
    return report


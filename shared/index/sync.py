"""The publish stage: make one source's part of the search index equal to the source's live chunks.

For each ledger shard (``shared.index.ledger``), the document records under it are listed with their ETags
and compared with the ledger: a record whose ETag the ledger holds, with nothing pending, needs nothing —
an unchanged re-run sends no request to the index. Every other document (new, edited, deleted,
tombstoned, retired, re-embedded, its record gone) is read and brought in line, a few at a time:

1. the record says what the index should hold: the chunks of its current version, if it is live and was
   embedded by the generation's model — else nothing;
2. the versions about to be uploaded are written to the ledger as *pending* first (write-ahead);
3. the chunks are upserted; the document's other keys (old versions, stale tail chunks) are deleted once
   its upload is acknowledged in full (readers never see a document with no chunks);
4. the ledger records what the index acknowledged — only that.

Documents a batch's commit has published (``shared.index.batch``) carry their record's ETag in the ledger, so a
pass after the batches finds them in line without reading them.

A pass stops after ``max_seconds`` and returns a cursor (the shard it stopped in, and the counts so far);
calling again from the cursor goes on where it stopped (the shard is compared again, so work already
acknowledged is not repeated). A key the index refused stays pending and is sent again by the next pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.errors import CorruptBlobError
from shared.faults import crashpoint
from shared.index import generations, ledger
from shared.index.base import IndexTarget, WriteOutcome
from shared.index.generations import Writable
from shared.index.ledger import SHARDS, Entry
from shared.index.reconcile import Doc, after, desired, holds, intent, stale_ids, take_rows, vkey
from shared.models import ErrorRecord, PublishResult
from shared.pipeline.context import Context
from shared.storage import layout
from shared.storage.blobs import BlobStore
from shared.storage.records import parse_doc

log = logging.getLogger("harvest.index")
GROUP_DOCS = 32  # documents brought in line per ledger write
READ_CONCURRENCY = 16
MAX_ERRORS = 5


@dataclass
class Pass:
    """Counts of one publish pass over a source (carried in the cursor between calls)."""

    live: int = 0
    other_model: int = 0
    failed: int = 0

    def cursor(self, shard: str) -> str:
        return f"{shard}/{self.live}/{self.other_model}/{self.failed}"

    @classmethod
    def parse(cls, cursor: str | None) -> tuple[str, Pass]:
        if not cursor:
            return SHARDS[0], cls()
        try:
            shard, live, other, failed = cursor.split("/")
            if shard not in SHARDS:
                raise ValueError(shard)
            return shard, cls(int(live), int(other), int(failed))
        except ValueError:
            raise ValueError(f"not a publish cursor: {cursor!r}") from None


@dataclass
class Publisher:
    store: BlobStore
    target: IndexTarget
    source_id: str
    where: Writable
    batch_chunks: int = 1000
    dry_run: bool = False
    result: PublishResult = field(default_factory=PublishResult)
    progressed: bool = False
    points: tuple[str, str] = ("index.intent", "index.sent")  # crash points: intents written; index answered
    seen: ledger.Seen = field(default_factory=dict)  # ledger shards as this publisher last read or wrote them

    @property
    def tid(self) -> str:
        return generations.target_id(self.target)

    # -- one shard ---------------------------------------------------------------------------------
    async def shard(self, shard: str, counts: Pass, deadline: float) -> bool:
        """Bring one shard in line; ``False`` when the deadline came first (call again for the rest)."""
        listed = await self.store.list_etags(f"{layout.docs_prefix(self.source_id)}{shard}")
        records = {ledger.doc_key_of(name): (name, etag) for name, etag in listed.items()}
        entries = await ledger.read_shard(self.store, self.tid, self.where.gen.id, self.source_id, shard, self.seen)
        todo: list[Doc] = []
        for key, (name, etag) in sorted(records.items()):
            entry = entries.get(key)
            if entry is not None and entry.etag == etag and entry.settled():
                self.result.unchanged += 1
                counts.live += entry.acked is not None
                counts.other_model += entry.other_model
                continue
            todo.append(Doc(key=key, record_blob=name, entry=entry))
        todo += [Doc(key=key, record_blob=None, entry=entry) for key, entry in sorted(entries.items())
                 if key not in records]
        for start in range(0, len(todo), GROUP_DOCS):
            if self.progressed and time.monotonic() > deadline:  # every call moves at least one group on
                return False
            await self._group(todo[start:start + GROUP_DOCS], counts)
            self.progressed = True
        return True

    async def _group(self, docs: list[Doc], counts: Pass) -> None:
        """Read what ``docs`` need (records; version blobs of what is to be uploaded), then bring them in line."""
        limit = asyncio.Semaphore(READ_CONCURRENCY)
        await asyncio.gather(*(self._desired(doc, limit) for doc in docs))
        docs = [d for d in docs if d.record is not None or d.entry is not None]
        uploads = [d for d in docs if d.want is not None and not holds(d.entry, d.want)]
        await asyncio.gather(*(self._rows(doc, limit) for doc in uploads))
        await self.apply(docs, counts)

    async def apply(self, docs: list[Doc], counts: Pass) -> None:
        """Bring ``docs`` in line, their records, ledger entries and wanted versions known (and the rows of
        every version to upload): write-ahead intents, one upsert, stale keys deleted once acknowledged, the
        acknowledged state recorded. The documents may lie in several ledger shards (one write per shard)."""
        uploads = [d for d in docs if d.want is not None and not holds(d.entry, d.want)]
        if any(not d.rows for d in uploads):
            raise ValueError("a version to upload without its rows")  # it would be recorded as acknowledged
        for doc in docs:
            counts.live += doc.want is not None
            counts.other_model += doc.other_model
        if self.dry_run:
            self.result.upserted += sum(len(d.rows) for d in uploads)
            self.result.deleted += sum(len(stale_ids(d, self.source_id)) for d in docs)
            return
        base: dict[str, Entry | None] = {d.key: d.entry for d in docs}
        if uploads:  # write-ahead: the index may hold these keys from now on
            intents: dict[str, Entry | None] = {d.key: intent(d) for d in uploads}
            await self._ledgers(intents, base)
            base.update(intents)
            crashpoint(self.points[0])
        sent = WriteOutcome()
        rows = [row for d in uploads for row in d.rows]
        for i in range(0, len(rows), self.batch_chunks):
            sent.add(await self.target.upsert(self.where.physical, rows[i:i + self.batch_chunks]))
        uploaded = {d.key for d in uploads if all(r["chunk_id"] in sent.acked for r in d.rows)}
        stale = {d.key: stale_ids(d, self.source_id) for d in docs
                 if d.want is None or d.key in uploaded or holds(d.entry, d.want)}
        removed = WriteOutcome()
        keys = sorted({c for ids in stale.values() for c in ids})
        for i in range(0, len(keys), self.batch_chunks):
            removed.add(await self.target.delete(self.where.physical, keys[i:i + self.batch_chunks]))
        crashpoint(self.points[1])
        self.result.upserted += len(sent.acked)
        self.result.deleted += len(removed.acked)
        failures = {**sent.failed, **removed.failed}
        self.result.failed += len(failures)
        counts.failed += len(failures)
        for chunk_id, reason in list(failures.items())[:MAX_ERRORS - len(self.result.errors)]:
            self.result.errors.append(ErrorRecord(stage="publish", reason=f"chunk {chunk_id}: {reason}"[:500]))
        await self._ledgers({d.key: after(d, d.key in uploaded, removed.acked, self.source_id) for d in docs}, base)

    async def _desired(self, doc: Doc, limit: asyncio.Semaphore) -> None:
        """What the index should hold for ``doc``, from its record."""
        if doc.record_blob is not None:
            async with limit:
                try:
                    value, etag = await self.store.read_json(doc.record_blob)
                    doc.etag = etag.strip('"') if etag else None
                    doc.record = None if value is None else parse_doc(value, doc.record_blob)
                except CorruptBlobError as exc:  # left out of the corpus (export, query): out of the index too
                    log.warning("%s; its chunks leave the index", exc)
                    doc.record = None
        doc.want, doc.other_model = desired(doc.record, self.where.gen.model_id)

    async def _rows(self, doc: Doc, limit: asyncio.Semaphore) -> None:
        assert doc.want is not None and doc.want.blob is not None
        async with limit:
            try:
                lines = await self.store.read_jsonl(doc.want.blob)
            except CorruptBlobError as exc:
                log.warning("%s; its chunks leave the index", exc)
                lines = []
        take_rows(doc, lines)

    async def _ledgers(self, new: dict[str, Entry | None], base: dict[str, Entry | None]) -> None:
        """``_ledger`` for entries of any shards: one write per shard, the shards at once."""
        parts: dict[str, dict[str, Entry | None]] = {}
        for key, entry in new.items():
            parts.setdefault(ledger.shard_of(key), {})[key] = entry
        await asyncio.gather(*(self._ledger(shard, part, base) for shard, part in sorted(parts.items())))

    async def _ledger(self, shard: str, new: dict[str, Entry | None], base: dict[str, Entry | None]) -> None:
        """Write ``new`` entries. A version the blob names now that is in neither ``base`` (what this pass
        started from) nor ``new`` was added by another writer meanwhile: it stays pending, never dropped."""

        def change(entries: dict[str, Entry]) -> None:
            for key, entry in new.items():
                current = entries.get(key)
                known = {vkey(v) for e in (base.get(key), entry) if e is not None
                         for v in [e.acked, *e.pending] if v is not None}
                extra = [v for v in ([current.acked, *current.pending] if current is not None else [])
                         if v is not None and vkey(v) not in known]
                if extra:
                    doc_id = entry.doc_id if entry is not None else current.doc_id  # type: ignore[union-attr]
                    kept = entry or Entry(doc_id=doc_id)
                    entry = kept.model_copy(update={"pending": [*kept.pending, *extra], "etag": None})
                if entry is None:
                    entries.pop(key, None)
                else:
                    entries[key] = entry

        await ledger.update_shard(self.store, self.tid, self.where.gen.id, self.source_id, shard, change, self.seen,
                                  keys=set(new))


async def publish(store: BlobStore, target: IndexTarget, source_id: str, *, model_id: str, dim: int,
                  cursor: str | None = None, max_seconds: float = 120.0, batch_chunks: int = 1000,
                  dry_run: bool = False, run_id: str | None = None) -> PublishResult:
    """One call of the publish stage for ``source_id`` (see the module docstring)."""
    started = time.monotonic()
    deadline = started + max_seconds
    shard, counts = Pass.parse(cursor)
    if dry_run:
        state = await generations.read_state(store, target)
        where = generations.planned(state, target, model_id, dim)
        if where is None:  # nothing published for this model yet: every live chunk would be sent
            where = Writable(generations._new(model_id, dim, state), "", False)
    else:
        where = await generations.writable(store, target, model_id, dim)
    pub = Publisher(store, target, source_id, where, batch_chunks=batch_chunks, dry_run=dry_run)
    pub.result.target = f"{target.kind}:{where.physical or target.name}"
    for s in SHARDS[SHARDS.index(shard):]:
        if not await pub.shard(s, counts, deadline):
            pub.result.cursor = counts.cursor(s)
            break
    pub.result.other_model = counts.other_model
    if pub.result.cursor is None and not dry_run:
        await ledger.write_status(store, pub.tid, where.gen.id, source_id, {
            "live": counts.live, "other_model": counts.other_model, "failed": counts.failed,
            "complete": counts.other_model == 0 and counts.failed == 0, "run_id": run_id,
            "at": datetime.now(UTC).isoformat()})
        optimize = getattr(target, "optimize", None)
        if optimize is not None:  # also after a pass that found everything in line: the batches wrote it
            await optimize(where.physical, force=bool(pub.result.upserted or pub.result.deleted))
        if not where.active:
            pub.result.switched = await generations.maybe_switch(store, target, where.gen)
    pub.result.seconds = round(time.monotonic() - started, 4)
    return pub.result


async def publish_stage(ctx: Context, source_id: str, *, cursor: str | None = None, dry_run: bool = False,
                        run_id: str | None = None, max_seconds: float | None = None) -> PublishResult:
    """The publish activity's work: the configured target, the configured embedder's model."""
    from shared.index import open_target

    async with open_target(ctx.settings) as target:
        if target is None:
            return PublishResult(target="none")
        embedder = ctx.embedder
        return await publish(ctx.store, target, source_id, model_id=embedder.model_id, dim=embedder.dim,
                             cursor=cursor, max_seconds=max_seconds or ctx.settings.index_max_seconds,
                             batch_chunks=ctx.settings.index_batch_chunks, dry_run=dry_run, run_id=run_id)


async def publish_all(ctx: Context, target: IndexTarget, source_id: str, *, run_id: str | None = None) -> PublishResult:
    """Every call of the publish stage for a source, outside a run (retire, ``harvest index``)."""
    embedder = ctx.embedder
    total = PublishResult()
    cursor: str | None = None
    while True:
        part = await publish(ctx.store, target, source_id, model_id=embedder.model_id, dim=embedder.dim,
                             cursor=cursor, max_seconds=ctx.settings.index_max_seconds,
                             batch_chunks=ctx.settings.index_batch_chunks, run_id=run_id)
        total = total.model_copy(update={
            "target": part.target, "upserted": total.upserted + part.upserted, "deleted": total.deleted + part.deleted,
            "failed": total.failed + part.failed, "unchanged": total.unchanged + part.unchanged,
            "other_model": part.other_model, "seconds": round(total.seconds + part.seconds, 4),
            "errors": [*total.errors, *part.errors][:MAX_ERRORS], "switched": part.switched or total.switched})
        if part.cursor is None:
            return total
        cursor = part.cursor

"""``harvest index status | verify | rebuild`` and the query path: what the index holds against what the
corpus says is live, and how to bring the two together.

Drift is computed from the keys themselves — the chunk ids the index holds against the chunk ids
``harvest export`` prints (live documents' current versions, embedded by the index's model) — not from
the ledger, so it also finds what the ledger cannot (an index edited behind Harvest's back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.corpus.read import iter_chunks
from shared.index import generations, ledger
from shared.index.base import IndexHit, IndexTarget
from shared.index.generations import GenState, IndexState, Writable
from shared.index.sync import publish_all
from shared.pipeline.context import Context
from shared.storage import layout


@dataclass
class Drift:
    index: str
    model_id: str
    live: int = 0
    indexed: int = 0
    missing: list[str] = field(default_factory=list)  # live chunks the index lacks
    extra: list[str] = field(default_factory=list)  # keys the index holds that are not live
    other_model: int = 0  # live chunks of another model (not for this index)
    where: dict[str, tuple[str, str]] = field(default_factory=dict)  # chunk id → (source, doc) of live chunks

    @property
    def drift(self) -> int:
        return len(self.missing) + len(self.extra)

    def summary(self) -> dict[str, Any]:
        return {"index": self.index, "model": self.model_id, "live_chunks": self.live, "indexed": self.indexed,
                "missing": len(self.missing), "extra": len(self.extra), "drift": self.drift,
                "other_model_chunks": self.other_model, "examples": {"missing": self.missing[:5],
                                                                     "extra": self.extra[:5]}}


def current_generation(state: IndexState, target: IndexTarget) -> Writable | None:
    """The generation being written: ``next`` while one is being built, else the active one."""
    if state.next is not None:
        return Writable(state.next, target.physical(state.next.generation(), active=False), False)
    if state.active is not None:
        return Writable(state.active, target.physical(state.active.generation(), active=True), True)
    return None


async def drift(ctx: Context, target: IndexTarget, gen: GenState, physical: str) -> Drift:
    out = Drift(index=physical, model_id=gen.model_id)
    live: set[str] = set()
    async for row in iter_chunks(ctx.store):
        if row["model"] == gen.model_id:
            live.add(row["chunk_id"])
            out.where[row["chunk_id"]] = (row["source_id"], row["doc_id"])
        else:
            out.other_model += 1
    held = await target.chunk_ids(physical)
    out.live, out.indexed = len(live), len(held)
    out.missing, out.extra = sorted(live - held), sorted(held - live)
    return out


async def status(ctx: Context, target: IndexTarget) -> dict[str, Any]:
    state = await generations.read_state(ctx.store, target)
    tid = generations.target_id(target)
    current = current_generation(state, target)
    out: dict[str, Any] = {"target": target.kind, "name": target.name, "location": target.locator,
                           "reader_index": await target.reader_index(), "active": generations.describe(state.active),
                           "next": generations.describe(state.next), "switched_at": state.switched_at,
                           "configured_model": ctx.embedder.model_id, "sources": {}}
    if current is None:
        out["drift"] = None
        return out
    for source_id in await ctx.store.list_folders("state/"):
        out["sources"][source_id] = await ledger.read_status(ctx.store, tid, current.gen.id, source_id)
    if state.next is not None:
        out["waiting_on"] = await generations.complete(ctx.store, target, state.next, state.active)
    out["drift"] = (await drift(ctx, target, current.gen, current.physical)).summary()
    return out


async def repair(ctx: Context, target: IndexTarget) -> dict[str, Any]:
    """Publish every source; delete keys the index holds that no ledger names; forget ledger entries whose
    keys the index lost and publish those documents again. Returns the drift after."""
    sources = await ctx.store.list_folders("state/")
    counts = {"upserted", "deleted", "failed"}
    published = {sid: (await publish_all(ctx, target, sid)).model_dump(mode="json", include=counts) for sid in sources}
    state = await generations.read_state(ctx.store, target)
    current = current_generation(state, target)
    if current is None:
        return {"published": published, "drift": None}
    found = await drift(ctx, target, current.gen, current.physical)
    removed = 0
    if found.extra:
        removed = len((await target.delete(current.physical, found.extra)).acked)
    if found.missing:
        tid = generations.target_id(target)
        lost: dict[tuple[str, str], set[str]] = {}
        for chunk_id in found.missing:
            source_id, doc_id = found.where[chunk_id]
            key = layout.doc_key(source_id, doc_id)
            lost.setdefault((source_id, ledger.shard_of(key)), set()).add(key)
        for (source_id, shard), keys in lost.items():
            def forget(entries: ledger.Shard, keys: set[str] = keys) -> None:
                for key in keys:
                    entry = entries.get(key)
                    if entry is not None:  # its keys may be anywhere: all of them pending, none acknowledged
                        versions = [v for v in [entry.acked, *entry.pending] if v is not None]
                        entries[key] = ledger.Entry(doc_id=entry.doc_id, pending=versions)

            await ledger.update_shard(ctx.store, tid, current.gen.id, source_id, shard, forget)
        for source_id in {s for s, _ in lost}:
            part = await publish_all(ctx, target, source_id)
            published[source_id]["upserted"] += part.upserted
    after = await drift(ctx, target, current.gen, current.physical)
    return {"published": published, "extra_deleted": removed, "drift": after.summary()}


async def rebuild(ctx: Context, target: IndexTarget) -> dict[str, Any]:
    """A fresh generation of the configured model, filled from the corpus, then switched in."""
    embedder = ctx.embedder
    where = await generations.start_rebuild(ctx.store, target, embedder.model_id, embedder.dim)
    published = {}
    switched = None
    for source_id in await ctx.store.list_folders("state/"):
        part = await publish_all(ctx, target, source_id)
        published[source_id] = part.model_dump(mode="json", include={"upserted", "deleted", "failed"})
        switched = part.switched or switched
    if not where.active and switched is None:  # sources with no state at all never publish: switch now
        switched = await generations.maybe_switch(ctx.store, target, where.gen)
    state = await generations.read_state(ctx.store, target)
    return {"generation": where.gen.id, "switched_to": switched, "published": published,
            "active": generations.describe(state.active),
            "waiting_on": await generations.complete(ctx.store, target, state.next, state.active)
            if state.next is not None else []}


async def search(ctx: Context, target: IndexTarget, text: str, k: int, *,
                 source_id: str | None = None, hybrid: bool = True) -> tuple[list[IndexHit], str | None]:
    """Query what readers see with the configured embedder; a note when that is not the whole answer."""
    embedder = ctx.embedder
    state = await generations.read_state(ctx.store, target)
    note = None
    index = None
    if state.active is not None and state.active.model_id == embedder.model_id:
        index = None  # the reader-facing name (the alias on Azure AI Search)
    elif state.next is not None and state.next.model_id == embedder.model_id:
        index = target.physical(state.next.generation(), active=False)
        seen = state.active.model_id if state.active else "nothing"
        note = (f"the index for {embedder.model_id} is still being built (readers see {seen}): "
                "results cover what it holds so far")
    else:
        have = state.active.model_id if state.active else None
        return [], ("the index is empty: run `harvest run` first" if have is None else
                    f"the index holds vectors of {have}, the configured embedder is {embedder.model_id}: "
                    "run `harvest run` (or `harvest index rebuild`) with this embedder first")
    vector = [float(x) for x in embedder.embed_query(text)]
    hits = await target.search(vector, text if hybrid else None, k, source_id=source_id, index=index)
    return hits, note

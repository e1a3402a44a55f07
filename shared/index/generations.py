"""Index generations: which physical index readers see (``active``), which is being built (``next``: another
embedding model, or a rebuild), and the switch between them.

State lives in ``index/{target}/state.json`` (ETag-updated). Writes go to ``next`` while there is one (the
active index is left as it is: readers keep a whole index of the old model, never half of the new one), else
to ``active``. The first generation ever is active at once (there is nothing older to show). ``next`` is
switched in when every source with documents has completed a publish pass into it with no live document
left in another model and no key un-acknowledged (``complete``); the old generation's ledger is deleted
first, then its index — a ledger never names keys of an index that is gone.

Many writers set a generation up at once (a run's batch lanes publish from their commits; sources run in
parallel): in one process ``writable`` runs one at a time per target; across processes the state blob
decides (ETag updates; the first instance recorded wins, and a writer that lost looks again), and an index a
peer has made but not yet recorded is adopted when it is empty (a peer writes only after recording it).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import TransientError
from shared.index import ledger
from shared.index.base import Generation, IndexTarget
from shared.index.keys import generation_id
from shared.storage import layout
from shared.storage.blobs import BlobStore

log = logging.getLogger("harvest.index")
_SETUP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()
ENSURE_ROUNDS = 4


class GenState(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    model_id: str
    dim: int
    rebuild: int = 0
    instance: str | None = None  # the physical index's marker when the ledger was started

    def generation(self) -> Generation:
        return Generation(id=self.id, model_id=self.model_id, dim=self.dim)


class IndexState(BaseModel):
    model_config = ConfigDict(extra="ignore")
    active: GenState | None = None
    next: GenState | None = None
    retired: list[GenState] = Field(default_factory=list)
    switched_at: datetime | None = None


def target_id(target: IndexTarget) -> str:
    """The ledger's name for a target: kind + a hash of where it lives (another directory or service has
    another ledger)."""
    import hashlib

    return f"{target.kind}-{hashlib.sha256(target.locator.encode()).hexdigest()[:10]}-{target.name}"


async def read_state(store: BlobStore, target: IndexTarget) -> IndexState:
    value, _ = await store.read_json(layout.index_state_blob(target_id(target)))
    return IndexState.model_validate(value) if isinstance(value, dict) else IndexState()


async def _update(store: BlobStore, target: IndexTarget, change: Any) -> IndexState:
    def apply(current: Any) -> dict[str, Any]:
        state = IndexState.model_validate(current) if isinstance(current, dict) else IndexState()
        new: IndexState = change(state)
        return new.model_dump(mode="json")

    return IndexState.model_validate(await store.update_json(layout.index_state_blob(target_id(target)), apply))


def _same_model(gen: GenState | None, model_id: str, dim: int) -> bool:
    return gen is not None and gen.model_id == model_id and gen.dim == dim


def _new(model_id: str, dim: int, state: IndexState) -> GenState:
    """A generation for the model, numbered past every generation of it still known (so a rebuild, or a
    model coming back before its old generation was cleaned up, never reuses a name)."""
    taken = [g for g in [state.active, state.next, *state.retired] if g is not None]
    number = max((g.rebuild + 1 for g in taken if g.model_id == model_id and g.dim == dim), default=0)
    return GenState(id=generation_id(model_id, dim, number), model_id=model_id, dim=dim, rebuild=number)


@dataclass(frozen=True)
class Writable:
    """Where a publish pass writes: the generation, its physical index, and whether readers see it."""

    gen: GenState
    physical: str
    active: bool


def planned(state: IndexState, target: IndexTarget, model_id: str, dim: int) -> Writable | None:
    """Where a pass for ``model_id`` would write, from ``state`` alone (``None``: a generation to create)."""
    if _same_model(state.next, model_id, dim):
        assert state.next is not None
        return Writable(state.next, target.physical(state.next.generation(), active=False), False)
    if state.next is None and _same_model(state.active, model_id, dim):
        assert state.active is not None
        return Writable(state.active, target.physical(state.active.generation(), active=True), True)
    return None


def _setup_lock(store: BlobStore, target: IndexTarget) -> asyncio.Lock:
    locks = _SETUP.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(f"{store.container_name}/{target_id(target)}", asyncio.Lock())


async def writable(store: BlobStore, target: IndexTarget, model_id: str, dim: int) -> Writable:
    """The generation a publish pass for ``model_id`` writes into, created when needed, its index made sure
    of: when the index is missing or is not the one the ledger was started on (dropped and made again
    behind Harvest's back, or its directory deleted), the ledger is reset and the index made anew."""
    async with _setup_lock(store, target):
        return await _writable(store, target, model_id, dim)


async def _writable(store: BlobStore, target: IndexTarget, model_id: str, dim: int) -> Writable:
    state = await read_state(store, target)
    if planned(state, target, model_id, dim) is None:
        def choose(s: IndexState) -> IndexState:
            if planned(s, target, model_id, dim) is not None:
                return s
            if s.next is not None:  # the model changed again before the last change was switched in
                s.retired.append(s.next)
                s.next = None
            if s.active is None:
                s.active = _new(model_id, dim, s)
            elif not _same_model(s.active, model_id, dim):
                s.next = _new(model_id, dim, s)
            return s

        state = await _update(store, target, choose)
        await cleanup(store, target)
        state = await read_state(store, target)
    where = planned(state, target, model_id, dim)
    assert where is not None
    where = await _ensure(store, target, where)
    if where.active and await target.reader_index() != where.physical:  # the first generation: readers see it now
        await target.promote(where.physical, where.gen.generation())
    return where


def _find(state: IndexState, gen_id: str) -> GenState | None:
    return next((g for g in (state.active, state.next) if g is not None and g.id == gen_id), None)


async def _ensure(store: BlobStore, target: IndexTarget, where: Writable) -> Writable:
    for _ in range(ENSURE_ROUNDS):
        gen = where.gen
        found = await target.instance(where.physical)
        if gen.instance is not None and found == gen.instance:
            return where
        # empty is asked before the state is read again: a peer records an index before it writes into it, so
        # an index with rows that the fresh state does not name is not a peer's
        empty = found not in (None, "unmarked") and not await target.count(where.physical)
        fresh = _find(await read_state(store, target), gen.id)  # judged on the state as it is now
        if fresh is None:
            raise TransientError(f"index generation {gen.id} was retired while being set up; publish again")
        if fresh.instance != gen.instance:  # another writer recorded an instance meanwhile: look again
            where = Writable(fresh, where.physical, where.active)
            continue
        # with no instance recorded, an empty index is one a peer made and has not recorded yet (or one that died
        # before recording it): nothing in it can escape the ledger, so it is kept (``ensure`` takes it as it is)
        if (gen.instance is not None or found is not None) and not (gen.instance is None and empty):
            log.warning("index %s is not the one its ledger describes: the ledger is reset and the index made anew",
                        where.physical)
            await store.delete_prefix(layout.ledger_prefix(target_id(target), gen.id))
            await target.drop(where.physical)
        instance = await target.ensure(where.physical, gen.generation())
        recorded = await _record(store, target, gen.id, gen.instance, instance)
        where = Writable(gen.model_copy(update={"instance": recorded}), where.physical, where.active)
        if recorded == instance:
            return where
    raise TransientError(f"index generation {where.gen.id}: its set-up is contended; publish again")


async def _record(store: BlobStore, target: IndexTarget, gen_id: str, expected: str | None,
                  instance: str) -> str | None:
    """Record ``instance`` for the generation unless another writer recorded another one since ``expected``
    was read; returns the instance the state holds."""

    def record(s: IndexState) -> IndexState:
        g = _find(s, gen_id)
        if g is not None and g.instance == expected:
            g.instance = instance
        return s

    state = await _update(store, target, record)
    g = _find(state, gen_id)
    return None if g is None else g.instance


async def start_rebuild(store: BlobStore, target: IndexTarget, model_id: str, dim: int) -> Writable:
    """A fresh generation of the same model as ``next`` (readers keep the active index until it is complete)."""

    def begin(s: IndexState) -> IndexState:
        if s.next is not None:
            s.retired.append(s.next)
        s.next = _new(model_id, dim, s)
        if s.active is None:
            s.active, s.next = s.next, None
        return s

    await _update(store, target, begin)
    await cleanup(store, target)
    return await writable(store, target, model_id, dim)


async def complete(store: BlobStore, target: IndexTarget, gen: GenState, active: GenState | None) -> list[str]:
    """The sources holding ``gen`` back (empty: complete): every source with stored state must have
    finished a publish pass into it with nothing left over — or have no live documents at all."""
    tid = target_id(target)
    waiting = []
    for source_id in await store.list_folders("state/"):
        status = await ledger.read_status(store, tid, gen.id, source_id)
        if status is not None:
            if not status.get("complete"):
                waiting.append(source_id)
            continue
        old = await ledger.read_status(store, tid, active.id, source_id) if active is not None else None
        if old is None or old.get("live", 1) > 0:
            waiting.append(source_id)
    return waiting


async def maybe_switch(store: BlobStore, target: IndexTarget, gen: GenState) -> str | None:
    """Switch readers to ``gen`` (the ``next`` generation) if it is complete; returns its index if it did."""
    state = await read_state(store, target)
    if state.next is None or state.next.id != gen.id or await complete(store, target, state.next, state.active):
        return None
    physical = target.physical(gen.generation(), active=False)
    await target.promote(physical, gen.generation())

    def flip(s: IndexState) -> IndexState:
        if s.next is None or s.next.id != gen.id:
            return s
        if s.active is not None:
            s.retired.append(s.active)
        s.active, s.next, s.switched_at = s.next, None, datetime.now(UTC)
        return s

    await _update(store, target, flip)
    live = target.physical(gen.generation(), active=True)
    if physical != live:
        await target.drop(physical)  # promoted by copy (LanceDB): the staging table is spare now
    await cleanup(store, target)
    log.info("index %s: readers switched to generation %s", target.name, gen.id)
    return live


async def cleanup(store: BlobStore, target: IndexTarget) -> None:
    """Delete retired generations: ledger first, then the index (never the one readers see)."""
    state = await read_state(store, target)
    if not state.retired:
        return
    keep = {target.physical(g.generation(), active=True) for g in [state.active] if g is not None}
    keep |= {target.physical(g.generation(), active=False) for g in [state.next] if g is not None}
    for gen in state.retired:
        await store.delete_prefix(layout.ledger_prefix(target_id(target), gen.id))
        physical = target.physical(gen.generation(), active=False)
        if physical not in keep:
            await target.drop(physical)
    gone = {g.id for g in state.retired}

    def forget(s: IndexState) -> IndexState:
        s.retired = [g for g in s.retired if g.id not in gone]
        return s

    await _update(store, target, forget)


def describe(gen: GenState | None) -> dict[str, Any] | None:
    return None if gen is None else gen.model_dump(mode="json")

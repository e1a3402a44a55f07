"""The local index: LanceDB, an embedded vector database (PyPI ``lancedb``; files under ``index_path``).

One table per index generation. The active generation is the table readers open, ``{name}`` (``chunks``);
a generation being built (another model, a rebuild) is ``{name}-{generation}`` until it is complete, then
*promoted*: ``{name}`` is overwritten with its rows in one commit (LanceDB OSS has no table rename or
alias; an overwrite is one new table version, so a reader sees the old rows or the new ones, never a mix),
and the staging table is dropped. Upserts are ``merge_insert`` on ``chunk_id``, deletes by key; a full-text
index on ``text`` makes hybrid queries (vector + BM25, fused by reciprocal rank) possible.

LanceDB's Python API is synchronous: calls run in a worker thread. Writes run one at a time per directory in
this process (an asyncio lock, so waiting callers do not hold worker threads, and a thread lock) and hold an
exclusive file lock in the directory (``fcntl.flock``), so processes on one machine — a run's commit lanes and
a ``harvest index verify --repair`` — never write at once; reads take no lock (Lance tables are versioned:
a reader opens the latest committed version). Lance resolves concurrent commits of distinct
keys by itself, but two ``merge_insert`` calls upserting the *same* new keys from two processes both insert
them (duplicate rows; measured with lancedb 0.40). A commit that lost to another process anyway is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.index.base import Generation, IndexHit, WriteOutcome

log = logging.getLogger("harvest.index")
INSTANCE = b"harvest_instance"
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
COMMIT_ATTEMPTS = 5
DELETE_CHUNK = 500  # keys per delete predicate


_ALOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()
WRITE_LOCK = ".harvest-write.lock"


def _lock(path: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


def _alock(path: str) -> asyncio.Lock:
    """This event loop's lock for the directory: callers queue here, not in worker threads."""
    with _LOCKS_GUARD:
        return _ALOCKS.setdefault(asyncio.get_running_loop(), {}).setdefault(path, asyncio.Lock())


@contextlib.contextmanager
def _file_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the directory across processes (released by the OS if the process dies)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; one writing process at a time is then the user's to keep
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / WRITE_LOCK, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LanceDBTarget:
    kind = "lancedb"

    def __init__(self, path: str | Path, name: str = "chunks") -> None:
        self.path = Path(path).expanduser().resolve()
        self.name = name
        self.locator = str(self.path)
        self._db: Any = None

    # -- plumbing ---------------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._db is None:
            import lancedb

            self.path.mkdir(parents=True, exist_ok=True)
            self._db = lancedb.connect(str(self.path))
        return self._db

    def _table(self, physical: str) -> Any | None:
        db = self._connect()
        try:
            return db.open_table(physical)
        except (FileNotFoundError, ValueError):
            return None

    async def _run(self, fn: Any, *args: Any, write: bool = False) -> Any:
        """``fn`` in a worker thread; a write under the locks, retried when another process's commit raced it.
        Reads take no lock: Lance tables are versioned, a reader opens the latest committed version."""
        if not write:
            return await asyncio.to_thread(fn, *args)

        def locked() -> Any:
            with _lock(self.locator), _file_lock(self.path):
                for attempt in range(COMMIT_ATTEMPTS):
                    try:
                        return fn(*args)
                    except Exception as exc:  # a concurrent commit from another process: retry
                        if "conflict" not in str(exc).lower() or attempt == COMMIT_ATTEMPTS - 1:
                            raise
                        time.sleep(0.05 * 2**attempt)
                return None

        async with _alock(self.locator):
            return await asyncio.to_thread(locked)

    # -- protocol ---------------------------------------------------------------------------------
    def physical(self, generation: Generation, *, active: bool) -> str:
        return self.name if active else f"{self.name}-{generation.id}"

    def _schema(self, generation: Generation, instance: str) -> Any:
        import pyarrow as pa

        return pa.schema([
            pa.field("chunk_id", pa.string(), nullable=False),
            pa.field("doc_id", pa.string()), pa.field("source_id", pa.string()), pa.field("url", pa.string()),
            pa.field("title", pa.string()), pa.field("ordinal", pa.int32()), pa.field("text", pa.string()),
            pa.field("content_hash", pa.string()), pa.field("model", pa.string()), pa.field("run_id", pa.string()),
            pa.field("created_at", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), generation.dim)),
        ], metadata={INSTANCE: instance.encode(), b"harvest_model": generation.model_id.encode()})

    async def ensure(self, physical: str, generation: Generation) -> str:
        def work() -> str:
            table = self._table(physical)
            if table is not None:
                marker = (table.schema.metadata or {}).get(INSTANCE)
                field = table.schema.field("vector").type
                if marker and getattr(field, "list_size", None) == generation.dim:
                    return str(marker.decode())
                self._connect().drop_table(physical)  # not ours, or another width: made anew
            instance = uuid.uuid4().hex
            self._connect().create_table(physical, schema=self._schema(generation, instance))
            return instance

        return str(await self._run(work, write=True))

    async def instance(self, physical: str) -> str | None:
        def work() -> str | None:
            table = self._table(physical)
            marker = (table.schema.metadata or {}).get(INSTANCE) if table is not None else None
            return marker.decode() if marker else None

        result: str | None = await self._run(work)
        return result

    async def upsert(self, physical: str, rows: list[dict[str, Any]]) -> WriteOutcome:
        if not rows:
            return WriteOutcome()

        def work() -> None:
            table = self._table(physical)
            if table is None:
                raise FileNotFoundError(f"LanceDB table {physical!r} is gone from {self.path}")
            (table.merge_insert("chunk_id").when_matched_update_all().when_not_matched_insert_all()
             .execute(rows))

        await self._run(work, write=True)
        return WriteOutcome(acked={r["chunk_id"] for r in rows})

    async def delete(self, physical: str, chunk_ids: list[str]) -> WriteOutcome:
        if not chunk_ids:
            return WriteOutcome()

        def work() -> None:
            table = self._table(physical)
            if table is None:  # nothing left to delete from
                return
            for i in range(0, len(chunk_ids), DELETE_CHUNK):
                part = chunk_ids[i:i + DELETE_CHUNK]
                table.delete(f"chunk_id IN ({', '.join(_quote(c) for c in part)})")

        await self._run(work, write=True)
        return WriteOutcome(acked=set(chunk_ids))

    async def chunk_ids(self, physical: str, source_id: str | None = None) -> set[str]:
        def work() -> set[str]:
            table = self._table(physical)
            if table is None:
                return set()
            query = table.search().select(["chunk_id"]).limit(None)
            if source_id is not None:
                query = query.where(f"source_id = {_quote(source_id)}")
            return set(query.to_arrow().column("chunk_id").to_pylist())

        result: set[str] = await self._run(work)
        return result

    async def count(self, physical: str) -> int:
        def work() -> int:
            table = self._table(physical)
            return int(table.count_rows()) if table is not None else 0

        return int(await self._run(work))

    async def promote(self, physical: str, generation: Generation) -> None:
        if physical == self.name:
            return

        def work() -> None:
            staging = self._table(physical)
            if staging is None:  # promoted before (a retried switch): the rows are in ``name`` already
                return
            db = self._connect()
            db.create_table(self.name, data=staging.to_arrow(), mode="overwrite")
            self._fts(db.open_table(self.name), force=True)

        await self._run(work, write=True)

    async def reader_index(self) -> str | None:
        def work() -> str | None:
            return self.name if self._table(self.name) is not None else None

        result: str | None = await self._run(work)
        return result

    async def drop(self, physical: str) -> None:
        def work() -> None:
            if self._table(physical) is not None:
                self._connect().drop_table(physical)

        await self._run(work, write=True)

    def _fts(self, table: Any, *, force: bool = False) -> None:
        """The full-text index on ``text`` (rows added since are searched too, unindexed, until ``optimize``)."""
        missing = not any(getattr(i, "index_type", "") == "FTS" for i in table.list_indices())
        if (force or missing) and table.count_rows():
            from lancedb.index import FTS

            table.create_index("text", config=FTS(), replace=True)

    async def optimize(self, physical: str, *, force: bool = True) -> None:
        """Compact the table's fragments, fold new rows into its indices (after a publish pass). ``force=False``:
        only when rows were written since the last time (rows outside the full-text index, or none at all):
        the pass that follows batches that published their own documents has written nothing itself."""

        def work() -> None:
            table = self._table(physical)
            if table is None or not (force or self._unindexed(table)):
                return
            self._fts(table)
            table.optimize()

        await self._run(work, write=True)

    @staticmethod
    def _unindexed(table: Any) -> bool:
        fts = next((i for i in table.list_indices() if getattr(i, "index_type", "") == "FTS"), None)
        if fts is None:
            return bool(table.count_rows())
        return bool(table.index_stats(fts.name).num_unindexed_rows)

    async def search(self, vector: list[float], text: str | None, k: int, *,
                     source_id: str | None = None, index: str | None = None) -> list[IndexHit]:
        def work() -> list[IndexHit]:
            table = self._table(index or self.name)
            if table is None:
                return []
            hybrid = bool(text and text.strip()) and any(
                getattr(i, "index_type", "") == "FTS" for i in table.list_indices())
            if hybrid:
                query = table.search(query_type="hybrid").vector(vector).text(text)
            else:
                query = table.search(vector).metric("cosine")
            if source_id is not None:
                query = query.where(f"source_id = {_quote(source_id)}", prefilter=True)
            rows = query.limit(k).to_list()
            hits = []
            for row in rows:
                score = row.pop("_relevance_score", None)
                distance = row.pop("_distance", None)
                row.pop("_score", None)
                row.pop("vector", None)
                if score is None:
                    score = 1.0 - float(distance) if distance is not None else 0.0
                hits.append(IndexHit(score=float(score), chunk=row))
            return hits

        result: list[IndexHit] = await self._run(work)
        return result

    async def close(self) -> None:
        self._db = None

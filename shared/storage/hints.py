"""The per-source hint index: ``state/{source}/hints.json`` maps each committed document to its change hint,
content hash, chunk config and deleted flag, so discovery decides "unchanged" with one blob read per
source instead of one per document.

It only ever learns from committed data — commit stages ``committed.jsonl`` rows for its batch, and
``finish_source`` merges them in — so an entry never claims more than the document records say. A stale or
missing index costs work, not correctness: a document it does not know is fetched, and the fetch stage's
checksum comparison against the document record finds it unchanged. A full refresh rebuilds it from the
records themselves.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from shared.errors import CorruptBlobError
from shared.storage import layout
from shared.storage.blobs import BlobStore

Hints = dict[str, dict[str, Any]]
log = logging.getLogger("harvest.storage")

_cache: dict[tuple[str, str], tuple[str, Hints]] = {}
_cache_lock = threading.Lock()


def entry(*, hint: str | None, content_hash: str | None, config: str | None, deleted: bool) -> dict[str, Any]:
    return {"hint": hint, "content_hash": content_hash, "config": config, "deleted": deleted}


async def load(store: BlobStore, source_id: str) -> Hints:
    """The current index (cached per process by ETag: a HEAD request when it has not changed)."""
    name = layout.hints_blob(source_id)
    key = (store.container_name, name)
    blob = store.container.get_blob_client(name)
    try:
        props = await blob.get_blob_properties()
    except Exception:  # absent (or unreadable): no index, discovery falls back to fetching
        return {}
    with _cache_lock:
        cached = _cache.get(key)
    if cached and cached[0] == props.etag:
        return cached[1]
    try:
        value, etag = await store.read_json(name)
    except CorruptBlobError as exc:  # unknown, not failed: every document is fetched and checked again
        log.warning("%s; ignoring it (documents are fetched again; the source's next commit rewrites it)", exc)
        return {}
    docs = value.get("docs") if isinstance(value, dict) else None
    hints: Hints = {}
    for doc_id, e in (docs.items() if isinstance(docs, dict) else ()):
        if isinstance(e, dict):  # a malformed entry is left out: that document is fetched and checked again
            hints[doc_id] = entry(hint=e.get("hint"), content_hash=e.get("content_hash"), config=e.get("config"),
                                  deleted=bool(e.get("deleted")))
    if etag:
        with _cache_lock:
            _cache[key] = (etag, hints)
    return hints


async def merge(store: BlobStore, source_id: str, rows: list[dict[str, Any]], *, replace: bool = False) -> int:
    """Apply committed rows (``doc_id`` + entry fields) to the index; ``replace`` starts from empty."""
    if not rows and not replace:
        return 0

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        old = current.get("docs") if isinstance(current, dict) and not replace else None
        docs = dict(old) if isinstance(old, dict) else {}
        for row in rows:
            docs[row["doc_id"]] = entry(hint=row.get("hint"), content_hash=row.get("content_hash"),
                                        config=row.get("config"), deleted=bool(row.get("deleted")))
        return {"source_id": source_id, "docs": docs}

    await store.update_json(layout.hints_blob(source_id), change, heal=True)
    return len(rows)

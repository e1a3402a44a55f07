"""Documents that failed permanently (a 404, a refused address, an oversized body, an unreadable file),
remembered per source in ``state/{source}/failures.json`` so that later runs do not fetch them again at once.

A failed document is retried after ``base`` hours, then twice as long after each further failure, up to
``cap`` hours. It is retried at once when its change hint moves (the source says it changed) or on a full
refresh; a successful fetch forgets it. Losing this blob costs fetches, never documents: an unreadable one
is ignored (logged) and rewritten.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from shared.errors import CorruptBlobError
from shared.storage import layout
from shared.storage.blobs import BlobStore

log = logging.getLogger("harvest.storage")
MAX_REASON = 300


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def load(store: BlobStore, source_id: str) -> dict[str, dict[str, Any]]:
    """``{doc_id: entry}``; ``{}`` when absent or unreadable."""
    try:
        value, _ = await store.read_json(layout.failures_blob(source_id))
    except CorruptBlobError as exc:
        log.warning("%s; ignoring it (those documents are fetched again)", exc)
        return {}
    docs = value.get("docs") if isinstance(value, dict) else None
    return {k: v for k, v in docs.items() if isinstance(v, dict)} if isinstance(docs, dict) else {}


def is_due(entry: dict[str, Any], hint: str | None, now: datetime) -> bool:
    """Whether a remembered failure should be fetched again now."""
    if hint is not None and entry.get("hint") != hint:
        return True
    retry_at = _when(entry.get("retry_at"))
    return retry_at is None or now >= retry_at


def backoff(attempts: int, base_hours: float, cap_hours: float) -> timedelta:
    return timedelta(hours=min(base_hours * 2 ** max(attempts - 1, 0), cap_hours))


async def forget(store: BlobStore, source_id: str, doc_ids: set[str]) -> None:
    """Forget the failures of documents that were committed since (one read; a write only if needed)."""
    if not doc_ids:
        return

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        docs = current.get("docs") if isinstance(current, dict) else None
        if not isinstance(docs, dict) or not doc_ids & docs.keys():
            return None
        return {"source_id": source_id, "docs": {k: v for k, v in docs.items() if k not in doc_ids}}

    await store.update_json(layout.failures_blob(source_id), change, heal=True)


async def remember(store: BlobStore, source_id: str, *, run_id: str, now: datetime,
                   failed: list[tuple[str, str | None, str]], base_hours: float, cap_hours: float) -> None:
    """Record ``failed`` (doc_id, hint, reason); idempotent per run (a retried activity does not count a
    failure twice)."""

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        docs = current.get("docs") if isinstance(current, dict) else None
        docs = dict(docs) if isinstance(docs, dict) else {}
        for doc_id, hint, reason in failed:
            known = docs.get(doc_id)
            old: dict[str, Any] = known if isinstance(known, dict) else {}
            same_run = old.get("run_id") == run_id
            attempts = int(old.get("attempts", 0) or 0) + (0 if same_run else 1)
            docs[doc_id] = {"reason": reason[:MAX_REASON], "hint": hint, "attempts": attempts, "run_id": run_id,
                            "first_failed_at": old.get("first_failed_at") or now.isoformat(),
                            "failed_at": now.isoformat(),
                            "retry_at": (now + backoff(attempts, base_hours, cap_hours)).isoformat()}
        return {"source_id": source_id, "docs": docs}

    await store.update_json(layout.failures_blob(source_id), change, heal=True)


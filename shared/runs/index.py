"""The run index: one small blob per run under ``runs-index/``, named so that a plain prefix listing
returns runs newest first, with everything a listing or the stats need in the blob's metadata.

```
runs-index/{9999999999999 - epoch_ms(requested_at):013d}-{run_id}.json
```
A listing page (``include=["metadata"]``, up to 5,000 blobs per request) therefore answers
``GET /api/runs?status=&source=&since=`` without reading any run record. The index is a projection of
the run record (``runs/{run_id}/run.json``, the source of truth): ``sync_index`` re-reads the record
after writing and writes again if the record moved meanwhile, so concurrent writers converge on the
latest record. Continuation tokens are opaque (base64 JSON of the listing marker and the last key).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.errors import CorruptBlobError
from shared.models import RunSummary
from shared.storage import layout
from shared.storage.blobs import JSON_TYPE, BlobStore, dumps

PREFIX = "runs-index/"
_MAX_MS = 9_999_999_999_999
_CODES = {"pending": "n", "running": "r", "completed": "c", "partial": "p", "failed": "f", "skipped": "s"}
_NAMES = {v: k for k, v in _CODES.items()}
_SOURCES_META_LIMIT = 6000
TOTAL_FIELDS = ("discovered", "added", "updated", "unchanged", "deleted", "failed", "chunks_embedded", "chunks_reused")


class BadContinuation(ValueError):
    """The continuation token was not made by this listing (or by the same filters)."""


def index_time(summary: RunSummary) -> datetime:
    when = summary.requested_at or summary.started_at or datetime(1970, 1, 1, tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def index_blob(summary: RunSummary) -> str:
    ms = int(index_time(summary).timestamp() * 1000)
    return f"{PREFIX}{_MAX_MS - ms:013d}-{summary.run_id}.json"


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def duration_s(summary: RunSummary) -> float | None:
    if summary.started_at and summary.finished_at:
        return round((summary.finished_at - summary.started_at).total_seconds(), 3)
    return None


def project(summary: RunSummary) -> tuple[dict[str, Any], dict[str, str]]:
    """(body, metadata) of the index entry of ``summary``."""
    sources = {sid: r.status for sid, r in summary.sources.items()}
    totals = summary.totals.model_dump()
    body = {"run_id": summary.run_id, "status": summary.status, "trigger": summary.trigger,
            "requested_at": _iso(summary.requested_at) or None, "started_at": _iso(summary.started_at) or None,
            "finished_at": _iso(summary.finished_at) or None, "duration_s": duration_s(summary),
            "totals": totals, "sources": sources, "dry_run": summary.options.dry_run}
    packed = ",".join(f"{sid}:{_CODES.get(st, 'n')}" for sid, st in sources.items())
    meta = {"run_id": summary.run_id, "status": summary.status, "trigger": summary.trigger,
            "requested": _iso(summary.requested_at), "started": _iso(summary.started_at),
            "finished": _iso(summary.finished_at), "duration": str(body["duration_s"] or ""),
            "totals": ".".join(str(totals[k]) for k in TOTAL_FIELDS),
            "dry": "1" if summary.options.dry_run else "0"}
    if len(packed) <= _SOURCES_META_LIMIT:
        meta["sources"] = packed
    else:
        meta["sources_in_body"] = "1"
    return body, meta


def _dt(value: Any) -> datetime | None:
    """A stored time, or None when absent or unreadable (index entries are a projection: never trust them)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def entry_time(entry: dict[str, Any]) -> datetime | None:
    """When the run of an index entry was requested (or started); None when unknown."""
    return _dt(entry.get("requested_at")) or _dt(entry.get("started_at"))


def _text(meta: dict[str, Any], key: str) -> str:
    value = meta.get(key)
    return value if isinstance(value, str) else ""


def _float(value: str) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def from_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """An index entry (the listing item) from blob metadata; ``sources`` is None when only in the body.

    Any stored value is tolerated (a missing or empty field comes back as None from the service, and an
    entry written by another version may hold anything): unreadable fields fall back to defaults."""
    numbers = [int(x) for x in _text(meta, "totals").split(".") if x.isdigit()][: len(TOTAL_FIELDS)]
    totals = dict(zip(TOTAL_FIELDS, numbers + [0] * (len(TOTAL_FIELDS) - len(numbers)), strict=True))
    sources: dict[str, str] | None = None
    if "sources_in_body" not in meta:
        pairs = [p.rsplit(":", 1) for p in _text(meta, "sources").split(",") if ":" in p]
        sources = {sid: _NAMES.get(code, "pending") for sid, code in pairs if sid}
    status = _text(meta, "status")
    return {"run_id": _text(meta, "run_id"), "status": status or "pending",
            "trigger": _text(meta, "trigger") or "http", "requested_at": _text(meta, "requested") or None,
            "started_at": _text(meta, "started") or None, "finished_at": _text(meta, "finished") or None,
            "duration_s": _float(_text(meta, "duration")), "totals": totals, "sources": sources,
            "dry_run": _text(meta, "dry") == "1"}


async def write_index(store: BlobStore, summary: RunSummary) -> str:
    body, meta = project(summary)
    name = index_blob(summary)
    await store.container.upload_blob(name, dumps(body), overwrite=True, metadata=meta,
                                      content_settings=JSON_TYPE)
    return name


async def _record_etag(store: BlobStore, run_id: str) -> str | None:
    try:
        props = await store.container.get_blob_client(layout.run_blob(run_id)).get_blob_properties()
    except ResourceNotFoundError:
        return None
    return str(props.etag)


async def sync_index(store: BlobStore, run_id: str, attempts: int = 5) -> RunSummary | None:
    """Make the index entry match the run record (re-read after writing; repeat if the record moved)."""
    summary = None
    for _ in range(attempts):
        value, etag = await store.read_json(layout.run_blob(run_id))
        if value is None:
            return None
        summary = RunSummary.model_validate(value)
        await write_index(store, summary)
        if await _record_etag(store, run_id) == etag:
            break
    return summary


async def delete_index(store: BlobStore, summary: RunSummary) -> None:
    await store.delete(index_blob(summary))


@dataclass(frozen=True)
class RunQuery:
    status: str | None = None
    source: str | None = None
    since: datetime | None = None
    limit: int = 20

    def fingerprint(self) -> str:
        key = f"{self.status}|{self.source}|{self.since.isoformat() if self.since else ''}"
        return hashlib.sha256(key.encode()).hexdigest()[:12]


def encode_token(marker: str | None, key: str, query: RunQuery) -> str:
    raw = json.dumps({"m": marker, "k": key, "q": query.fingerprint()}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, query: RunQuery) -> tuple[str | None, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        marker, key, fingerprint = data["m"], data["k"], data["q"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadContinuation("not a continuation token of this listing") from exc
    if fingerprint != query.fingerprint() or not isinstance(key, str) or not key.startswith(PREFIX):
        raise BadContinuation("the continuation token belongs to another query (filters changed)")
    if marker is not None and not isinstance(marker, str):
        raise BadContinuation("not a continuation token of this listing")
    return marker, key


async def _entry(store: BlobStore, name: str, meta: dict[str, str], need_sources: bool) -> dict[str, Any]:
    entry = from_metadata(meta)
    if entry["sources"] is None and need_sources:
        try:
            body, _ = await store.read_json(name)
        except CorruptBlobError:  # an unreadable entry body: its sources are unknown, the listing goes on
            body = None
        sources = body.get("sources") if isinstance(body, dict) else None
        entry["sources"] = sources if isinstance(sources, dict) else {}
    return entry


def _matches(entry: dict[str, Any], query: RunQuery) -> bool:
    if query.status and entry["status"] != query.status:
        return False
    return not query.source or query.source in (entry["sources"] or {})


async def list_runs(store: BlobStore, query: RunQuery, continuation: str | None = None, *,
                    scan_limit: int = 5000, page_size: int = 1000) -> tuple[list[dict[str, Any]], str | None]:
    """Index entries newest first, filtered; at most ``query.limit`` and a token when more may follow.
    At most ``scan_limit`` entries are examined per call (a rare filter returns fewer items and a token).
    No container yet (nothing ever ran) is an empty history."""
    marker, after = decode_token(continuation, query) if continuation else (None, None)
    try:
        return await _list_runs(store, query, marker, after, scan_limit, page_size)
    except ResourceNotFoundError:
        return [], None


async def _list_runs(store: BlobStore, query: RunQuery, marker: str | None, after: str | None, scan_limit: int,
                     page_size: int) -> tuple[list[dict[str, Any]], str | None]:
    items: list[dict[str, Any]] = []
    scanned = 0
    after_key = ""
    pages = store.container.list_blobs(name_starts_with=PREFIX, include=["metadata"],
                                       results_per_page=page_size).by_page(continuation_token=marker)
    page_marker = marker
    async for page in pages:
        async for blob in page:
            if after is not None and blob.name <= after:
                continue
            entry = await _entry(store, blob.name, blob.metadata or {}, bool(query.source))
            when = entry_time(entry)
            if query.since and when is not None and when < query.since:
                return items, None  # newest first: everything after this is older
            scanned += 1
            if _matches(entry, query):
                if len(items) == query.limit:
                    return items, encode_token(page_marker, after_key, query)
                items.append(entry)
                after_key = blob.name
            if scanned >= scan_limit:
                return items, encode_token(page_marker, blob.name, query)
        after = None
        page_marker = pages.continuation_token  # type: ignore[attr-defined]  # by_page() is an AsyncPageIterator
        if page_marker is None:
            break
    return items, None


async def iter_since(store: BlobStore, since: datetime) -> list[dict[str, Any]]:
    """Every index entry at or after ``since`` (with sources), newest first — for stats and retention."""
    out: list[dict[str, Any]] = []
    try:
        async for blob in store.container.list_blobs(name_starts_with=PREFIX, include=["metadata"],
                                                     results_per_page=5000):
            entry = await _entry(store, blob.name, blob.metadata or {}, True)
            when = entry_time(entry)
            if when is not None and when < since:
                break
            out.append({**entry, "index_blob": blob.name})
    except ResourceNotFoundError:  # no container: nothing ever ran
        return []
    return out


async def iter_before(store: BlobStore, cutoff: datetime) -> list[dict[str, Any]]:
    """Index entries older than ``cutoff`` (oldest last) — for retention."""
    out: list[dict[str, Any]] = []
    try:
        async for blob in store.container.list_blobs(name_starts_with=PREFIX, include=["metadata"],
                                                     results_per_page=5000):
            entry = from_metadata(blob.metadata or {})
            when = entry_time(entry)
            if when is not None and when < cutoff:
                out.append({**entry, "index_blob": blob.name})
    except ResourceNotFoundError:
        return []
    return out

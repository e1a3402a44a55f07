"""``rss``: an RSS 2.0 / Atom feed, fetched with the shared HttpClient and parsed by feedparser.

Discovery is one page: the feed's entries (at most ``max_items``, in feed order), skipping entries
strictly older than ``since`` (entries exactly at ``since`` are kept; checksums dedupe them later).
Feeds show only recent items, so ``lists_everything`` is False: a vanished item is not a deletion.

With ``fetch_full_text`` each entry's link is fetched as the document. Without it the entry's own
content (or summary) is the document, served as HTML. The entry text is not carried in the
``DocumentRef`` (payloads stay small): ``fetch`` reads it from a per-process cache filled by
discovery and, on a miss (fetch ran in another process), re-reads the feed once.
"""

from __future__ import annotations

import hashlib
import html
import threading
from datetime import UTC, datetime
from typing import Any, Literal

import feedparser
from pydantic import Field

from shared.errors import PermanentError
from shared.http import HttpClient
from shared.models import DocumentRef
from shared.sources.base import DiscoveryPage, Fetched, SourceSpec

_CACHE_LIMIT = 64  # feeds kept in the per-process entry cache
_cache: dict[str, dict[str, tuple[str | None, str]]] = {}
_cache_lock = threading.Lock()


class RssSpec(SourceSpec):
    kind: Literal["rss"] = "rss"
    url: str = Field(pattern=r"^https?://\S+$")
    max_items: int = Field(default=200, ge=1, le=10_000)
    fetch_full_text: bool = True


def parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _updated(entry: Any) -> datetime | None:
    # dict.get bypasses feedparser's deprecated updated→published key aliasing (and its warning)
    parsed = dict.get(entry, "updated_parsed") or dict.get(entry, "published_parsed")
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


def _entry_html(entry: Any) -> str:
    """The entry's body as HTML: its richest ``content``, else its summary, with the title on top."""
    body, kind = "", "text/html"
    contents = entry.get("content") or []
    if contents:
        best = max(contents, key=lambda c: (c.get("type") == "text/html", len(c.get("value") or "")))
        body, kind = best.get("value") or "", best.get("type") or "text/html"
    elif entry.get("summary"):
        detail = entry.get("summary_detail") or {}
        body, kind = entry["summary"], detail.get("type") or "text/html"
    if kind == "text/plain":
        body = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n") if p.strip())
    title = html.escape(entry.get("title") or "")
    return f"<html><head><title>{title}</title></head><body><article>{body}</article></body></html>"


class RssSource:
    Spec = RssSpec
    lists_everything = False

    def __init__(self, spec: RssSpec, **_: Any) -> None:
        self.spec = spec

    async def _read_feed(self, http: HttpClient) -> list[Any]:
        resp = await http.get(self.spec.url)
        feed = feedparser.parse(
            resp.body,
            response_headers={"content-type": resp.content_type or "", "content-location": resp.url},
        )
        if feed.bozo and not feed.entries:
            raise PermanentError(f"{self.spec.url}: not a readable feed ({feed.get('bozo_exception')})")
        entries = list(feed.entries)[: self.spec.max_items]
        if not self.spec.fetch_full_text:
            bodies = {}
            for entry in entries:
                doc_id = entry.get("id") or entry.get("link")
                if doc_id:
                    bodies[doc_id] = (entry.get("title"), _entry_html(entry))
            with _cache_lock:
                if len(_cache) >= _CACHE_LIMIT and self.spec.url not in _cache:
                    _cache.pop(next(iter(_cache)))
                _cache[self.spec.url] = bodies
        return entries

    async def discover(
        self, *, cursor: str | None, since: str | None, page_size: int, http: HttpClient
    ) -> DiscoveryPage:
        """All current entries in one page (``page_size`` and ``cursor`` do not apply to a feed)."""
        threshold = parse_since(since)
        items: list[DocumentRef] = []
        newest: datetime | None = None
        seen: set[str] = set()
        for entry in await self._read_feed(http):
            link = entry.get("link")
            doc_id = entry.get("id") or link
            if not doc_id or doc_id in seen:
                continue
            seen.add(doc_id)
            if self.spec.fetch_full_text and not link:
                continue
            updated = _updated(entry)
            if updated is not None:
                newest = updated if newest is None else max(newest, updated)
                if threshold is not None and updated < threshold:
                    continue
            if updated is not None:
                hint = updated.isoformat()
            else:
                hint = "sha256:" + hashlib.sha256(_entry_html(entry).encode()).hexdigest()[:32]
            items.append(
                DocumentRef(doc_id=doc_id, url=link or doc_id, title=entry.get("title"), hint=hint,
                            updated=updated)
            )
        return DiscoveryPage(items=items, next_cursor=None, high_water=newest.isoformat() if newest else None)

    async def fetch(self, ref: DocumentRef, *, http: HttpClient) -> Fetched:
        if self.spec.fetch_full_text:
            resp = await http.get(ref.url)
            return Fetched(data=resp.body, content_type=resp.content_type, url=resp.url, title=ref.title)
        with _cache_lock:
            found = _cache.get(self.spec.url, {}).get(ref.doc_id)
        if found is None:
            await self._read_feed(http)
            with _cache_lock:
                found = _cache.get(self.spec.url, {}).get(ref.doc_id)
        if found is None:
            raise PermanentError(f"{ref.doc_id}: entry no longer in the feed {self.spec.url}")
        title, body = found
        return Fetched(
            data=body.encode("utf-8"), content_type="text/html; charset=utf-8", url=ref.url,
            title=title or ref.title,
        )

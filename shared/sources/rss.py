"""``rss``: an RSS 2.0 / Atom feed, fetched through the source's HTTP policy and parsed by feedparser.

Discovery is one page: the feed's entries (at most ``max_items``, in feed order), skipping entries
strictly older than ``since`` (entries exactly at ``since`` are kept; checksums dedupe them later).
Feeds show only recent items, so ``lists_everything`` is False: a vanished item is not a deletion.

Conditional GET of the feed: the high-water mark is ``"{newest entry time} http:{validators}"`` — the
feed's ETag / Last-Modified are recorded *with* the mark, so they are only sent back once that
feed version was fully processed (the mark moves only when the source ends completed or partial,
and is held back to a plain time when items failed transiently). A 304 is an empty page.

With ``fetch_full_text`` each entry's link is fetched as the document (robots.txt checked, conditional
GET). Without it the entry's own content (or summary) is the document, carried as HTML in the
``DocumentRef`` (refs are staged in Blob, not in Durable payloads).
"""

from __future__ import annotations

import hashlib
import html
from datetime import UTC, datetime
from typing import Any, Literal

import feedparser
from pydantic import Field

from shared.errors import PermanentError
from shared.fetching.http import HttpClient
from shared.models import DocumentRef
from shared.sources.base import DiscoveryPage, Fetched
from shared.sources.parsing import parse_time
from shared.sources.web import (
    HttpSourceSpec,
    SourceHttp,
    conditional_headers,
    inline_document,
    validators_hint,
)


class RssSpec(HttpSourceSpec):
    kind: Literal["rss"] = "rss"
    url: str = Field(pattern=r"^https?://\S+$")
    max_items: int = Field(default=200, ge=1, le=10_000)
    fetch_full_text: bool = True


def split_since(value: str | None) -> tuple[datetime | None, str | None]:
    """``(time, feed validators)`` from a high-water mark (``"2024-03-05T10:00:00+00:00 http:{...}"``)."""
    if not value:
        return None, None
    when, _, validators = value.partition(" ")
    return parse_time(when), (validators or None)


def parse_since(value: str | None) -> datetime | None:
    return split_since(value)[0]


def _updated(entry: Any) -> datetime | None:
    # dict.get bypasses feedparser's deprecated updated→published key aliasing (and its warning)
    parsed = dict.get(entry, "updated_parsed") or dict.get(entry, "published_parsed")
    if not parsed:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


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

    def web(self, http: HttpClient) -> SourceHttp:
        return SourceHttp.of(http, self.spec, [self.spec.url])

    async def _read_feed(self, http: HttpClient, validators: str | None = None) -> tuple[list[Any] | None, str | None]:
        """The feed's entries (None after a 304) and its validators hint."""
        headers = conditional_headers(validators) if self.spec.conditional_get else {}
        resp = await self.web(http).get(self.spec.url, headers=headers)
        if resp.not_modified:
            return None, validators
        feed = feedparser.parse(
            resp.body,
            response_headers={"content-type": resp.content_type or "", "content-location": resp.url},
        )
        if feed.bozo and not feed.entries:
            raise PermanentError(f"{self.spec.url}: not a readable feed ({feed.get('bozo_exception')})")
        return list(feed.entries)[: self.spec.max_items], validators_hint(resp)

    async def discover(
        self, *, cursor: str | None, since: str | None, page_size: int, http: HttpClient
    ) -> DiscoveryPage:
        """All current entries in one page (``page_size`` and ``cursor`` do not apply to a feed)."""
        threshold, validators = split_since(since)
        entries, new_validators = await self._read_feed(http, validators)
        if entries is None:  # 304: nothing new since the feed version behind ``since``
            return DiscoveryPage(items=[], next_cursor=None, high_water=since)
        items: list[DocumentRef] = []
        newest: datetime | None = None
        seen: set[str] = set()
        for entry in entries:
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
            body = None if self.spec.fetch_full_text else _entry_html(entry)
            if updated is not None:
                hint = updated.isoformat()
            else:
                hint = "sha256:" + hashlib.sha256(_entry_html(entry).encode()).hexdigest()[:32]
            items.append(DocumentRef(
                doc_id=doc_id, url=link or doc_id, title=entry.get("title"), hint=hint, updated=updated,
                content=body, content_type="text/html; charset=utf-8" if body is not None else None,
            ))
        high_water = newest.isoformat() if newest else None
        if high_water and new_validators:
            high_water = f"{high_water} {new_validators}"
        return DiscoveryPage(items=items, next_cursor=None, high_water=high_water)

    async def fetch(self, ref: DocumentRef, *, http: HttpClient, known: str | None = None) -> Fetched:
        inline = inline_document(ref)
        if inline is not None:
            return inline
        if self.spec.fetch_full_text:
            return await self.web(http).fetch_document(ref, known)
        # A ref staged before entry bodies were carried in refs: read the feed once more.
        entries, _ = await self._read_feed(http)
        for entry in entries or []:
            if (entry.get("id") or entry.get("link")) == ref.doc_id:
                return Fetched(data=_entry_html(entry).encode("utf-8"), content_type="text/html; charset=utf-8",
                               url=ref.url, title=entry.get("title") or ref.title)
        raise PermanentError(f"{ref.doc_id}: no longer in the feed")

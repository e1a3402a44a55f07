"""``sitemap``: the pages a site lists in its sitemaps (sitemaps.org protocol).

``url`` is a sitemap (``<urlset>``), a sitemap index (``<sitemapindex>``, nested up to ``max_depth``),
a plain-text sitemap (one URL a line) or a ``robots.txt`` whose ``Sitemap:`` lines are the index. Any
of them may be gzipped (``.xml.gz``; decompressed size capped at ``HARVEST_MAX_BODY_BYTES``).

Discovery walks the tree depth-first in document order. The cursor is the path to the current urlset
(child positions in each index) and the offset in it — small, whatever the site's size. Parsed
sitemaps are kept per process (a few, LRU) and revalidated with a conditional GET on every use.

Change detection: ``lastmod`` is each page's change hint, and the newest ``lastmod`` seen is the
high-water mark. With ``detect_deletions`` (the default) every URL is listed every run and pages that
left the sitemap are tombstoned; with ``detect_deletions: false`` only URLs (and child sitemaps) whose
``lastmod`` is at or after the high-water mark are listed — cheaper for big sites. ``include`` /
``exclude`` are regular expressions searched in each URL; URLs on other hosts than the sitemap's are
ignored unless ``allow_other_hosts`` (the protocol forbids them).

Why not ultimate-sitemap-parser: it fetches with its own synchronous client (no SSRF guard, rate
limit or robots policy) and builds the whole tree at once; here each page needs one urlset.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from protego import Protego
from pydantic import Field, field_validator

from shared.errors import PermanentError
from shared.fetching.http import HttpClient
from shared.models import DocumentRef
from shared.sources.base import DiscoveryPage, Fetched
from shared.sources.parsing import (
    check_patterns,
    child_text,
    children,
    compile_patterns,
    gunzip,
    iso,
    later,
    local,
    parse_time,
    parse_xml,
)
from shared.sources.web import XML_TYPES, HttpSourceSpec, SourceHttp, conditional_headers, validators_hint

CACHE_SIZE = 8
MAX_SITEMAPS_PER_PAGE = 16
Entry = tuple[str, datetime | None]


class SitemapSpec(HttpSourceSpec):
    kind: Literal["sitemap"] = "sitemap"
    url: str = Field(pattern=r"^https?://\S+$")
    include: list[str] = Field(default_factory=list, description="Regexes; a URL must match one (if any).")
    exclude: list[str] = Field(default_factory=list, description="Regexes; a URL matching one is left out.")
    allow_other_hosts: bool = False
    max_depth: int = Field(default=3, ge=1, le=5)

    @field_validator("include", "exclude")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return check_patterns(v)


@dataclass(frozen=True)
class Parsed:
    kind: Literal["index", "urlset"]
    entries: list[Entry]


_cache: OrderedDict[str, tuple[str, Parsed]] = OrderedDict()
_cache_lock = threading.Lock()


def parse_sitemap(data: bytes, url: str) -> Parsed:
    """A sitemap, sitemap index, text sitemap or robots.txt (already decompressed)."""
    if urlsplit(url).path.endswith("/robots.txt"):
        robots = Protego.parse(data.decode("utf-8", errors="replace"))
        return Parsed("index", [(urljoin(url, s), None) for s in robots.sitemaps])
    if not data.lstrip().startswith(b"<"):
        lines = data.decode("utf-8", errors="replace").splitlines()
        urls = [line.strip() for line in lines if line.strip().startswith(("http://", "https://"))]
        if not urls and data.strip():
            raise PermanentError(f"{url}: not a sitemap")
        return Parsed("urlset", [(u, None) for u in urls])
    root = parse_xml(data, f"sitemap {url}")
    kinds: dict[str, Literal["index", "urlset"]] = {"sitemapindex": "index", "urlset": "urlset"}
    kind = kinds.get(local(root.tag))
    if kind is None:
        raise PermanentError(f"{url}: not a sitemap (root element {local(root.tag)!r})")
    entries = []
    for element in children(root, "sitemap" if kind == "index" else "url"):
        loc = child_text(element, "loc")
        if loc:
            entries.append((urljoin(url, loc), parse_time(child_text(element, "lastmod"))))
    return Parsed(kind, entries)


class SitemapSource:
    Spec = SitemapSpec
    lists_everything = True

    def __init__(self, spec: SitemapSpec, **_: Any) -> None:
        self.spec = spec
        self.host = (urlsplit(spec.url).hostname or "").lower()
        self.include = compile_patterns(spec.include)
        self.exclude = compile_patterns(spec.exclude)

    def web(self, http: HttpClient) -> SourceHttp:
        return SourceHttp.of(http, self.spec, [self.spec.url])

    async def _load(self, http: HttpClient, url: str) -> Parsed:
        with _cache_lock:
            cached = _cache.get(url)
        headers = conditional_headers(cached[0]) if cached else {}
        resp = await self.web(http).get(url, accept=(*XML_TYPES, "text/plain"), headers=headers)
        if resp.not_modified and cached:
            return cached[1]
        parsed = parse_sitemap(gunzip(resp.body, http.max_body_bytes), url)
        hint = validators_hint(resp)
        if hint:
            with _cache_lock:
                _cache[url] = (hint, parsed)
                _cache.move_to_end(url)
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
        return parsed

    def _wanted(self, url: str, lastmod: datetime | None, since: datetime | None) -> bool:
        if since is not None and lastmod is not None and lastmod < since:
            return False
        if not self.spec.allow_other_hosts and (urlsplit(url).hostname or "").lower() != self.host:
            return False
        if self.include and not any(p.search(url) for p in self.include):
            return False
        return not any(p.search(url) for p in self.exclude)

    async def _leaf(self, http: HttpClient, path: list[int], since: datetime | None) -> tuple[list[int], Parsed] | None:
        """The urlset at ``path``, or the next one after it in document order; None when done."""
        while True:
            node = await self._load(http, self.spec.url)
            exhausted_at = None
            for depth, position in enumerate(path):
                kids = [u for u, lastmod in node.entries if since is None or lastmod is None or lastmod >= since]
                if node.kind != "index" or position >= len(kids):
                    exhausted_at = depth
                    break
                node = await self._load(http, kids[position])
            if exhausted_at is not None:
                path = path[:exhausted_at]
                if not path:
                    return None
                path[-1] += 1
                continue
            if node.kind == "urlset":
                return path, node
            if len(path) >= self.spec.max_depth:
                raise PermanentError(f"{self.spec.url}: sitemap indexes nested deeper than {self.spec.max_depth}")
            path = [*path, 0]

    async def discover(
        self, *, cursor: str | None, since: str | None, page_size: int, http: HttpClient
    ) -> DiscoveryPage:
        threshold = None if self.spec.detect_deletions else parse_time((since or "").split(" ", 1)[0] or None)
        state: dict[str, Any] = json.loads(cursor) if cursor else {"path": [], "offset": 0}
        path, offset = list(state["path"]), int(state["offset"])
        items: list[DocumentRef] = []
        seen: set[str] = set()
        newest: datetime | None = None
        for _ in range(MAX_SITEMAPS_PER_PAGE):
            found = await self._leaf(http, path, threshold)
            if found is None:
                return DiscoveryPage(items=items, next_cursor=None, high_water=iso(newest))
            path, leaf = found
            while len(items) < page_size and offset < len(leaf.entries):
                loc, lastmod = leaf.entries[offset]
                offset += 1
                newest = later(newest, lastmod)
                if loc not in seen and self._wanted(loc, lastmod, threshold):
                    seen.add(loc)
                    items.append(DocumentRef(doc_id=loc, url=loc, hint=iso(lastmod), updated=lastmod))
            if offset >= len(leaf.entries):
                if not path:
                    return DiscoveryPage(items=items, next_cursor=None, high_water=iso(newest))
                path, offset = [*path[:-1], path[-1] + 1], 0
            if len(items) >= page_size:
                break
        return DiscoveryPage(items=items, next_cursor=json.dumps({"path": path, "offset": offset}),
                             high_water=iso(newest))

    async def fetch(self, ref: DocumentRef, *, http: HttpClient, known: str | None = None) -> Fetched:
        return await self.web(http).fetch_document(ref, known)

"""The sitemap source: nested indexes, gzip, text sitemaps, robots.txt, filters, paging and lastmod."""

from __future__ import annotations

import gzip
import json

import pytest
from pytest_httpserver import HTTPServer

from shared.errors import ConfigError, PermanentError
from shared.fetching.http import HttpClient
from shared.sources import build_source, parse_spec
from shared.sources.sitemap import SitemapSource
from tests.shared.sources.servers import serve_sitemaps, urlset

PAGES = {f"/docs/p{i}": f"2026-06-0{i}" for i in range(1, 7)} | {"/blog/x": None}


def http(max_body: int = 1_000_000) -> HttpClient:
    return HttpClient(user_agent="t", timeout=5, max_body_bytes=max_body, allowed_networks=["127.0.0.1/32"],
                      concurrency=4, retries=1, backoff=0.01)


def sitemap(url: str, **fields: object) -> SitemapSource:
    source = build_source(parse_spec({"id": "site", "kind": "sitemap", "url": url, **fields}), base_dir=None)  # type: ignore[arg-type]
    assert isinstance(source, SitemapSource)
    return source


async def walk(source: SitemapSource, page_size: int = 100, since: str | None = None) -> tuple[list, list]:
    items, pages, cursor = [], [], None
    async with http() as client:
        while True:
            page = await source.discover(cursor=cursor, since=since, page_size=page_size, http=client)
            items += page.items
            pages.append(page)
            if page.next_cursor is None:
                return items, pages
            assert len(page.next_cursor) < 200  # the cursor stays small whatever the site's size
            cursor = page.next_cursor


def test_spec_checks_patterns() -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec({"id": "site", "kind": "sitemap", "url": "https://x.example/s.xml", "include": ["[oops"]})
    assert info.value.problems[0]["field"] == "sources.site.include"


async def test_nested_index_gzip_and_paging(httpserver: HTTPServer) -> None:
    source = sitemap(serve_sitemaps(httpserver, PAGES))
    everything, _ = await walk(source)
    expected = [httpserver.url_for(p) for p in PAGES]
    assert [r.doc_id for r in everything] == expected
    paged, pages = await walk(source, page_size=2)
    assert [r.doc_id for r in paged] == expected and len(pages) >= 4
    assert max(p.high_water for p in pages if p.high_water) == "2026-06-06T00:00:00+00:00"
    first = everything[0]
    assert first.hint == "2026-06-01T00:00:00+00:00" and first.updated is not None
    assert everything[-1].hint is None  # no lastmod: always a candidate, conditional GET decides


async def test_include_exclude_and_other_hosts(httpserver: HTTPServer) -> None:
    pages = {"/docs/a": None, "/docs/b": None, "/blog/c": None}
    items = [(httpserver.url_for(p), None) for p in pages] + [("https://elsewhere.example/x", None)]
    httpserver.expect_request("/s.xml").respond_with_data(urlset(items), content_type="application/xml")
    source = sitemap(httpserver.url_for("/s.xml"), include=["/docs/"], exclude=[r"/b$"])
    found, _ = await walk(source)
    assert [r.doc_id for r in found] == [httpserver.url_for("/docs/a")]
    found, _ = await walk(sitemap(httpserver.url_for("/s.xml"), allow_other_hosts=True))
    assert "https://elsewhere.example/x" in [r.doc_id for r in found]


async def test_since_prunes_without_deletion_detection(httpserver: HTTPServer) -> None:
    url = serve_sitemaps(httpserver, PAGES)
    listed, _ = await walk(sitemap(url), since="2026-06-05T00:00:00+00:00")
    assert len(listed) == len(PAGES)  # detect_deletions lists everything
    recent, _ = await walk(sitemap(url, detect_deletions=False), since="2026-06-05T00:00:00+00:00")
    assert [r.doc_id for r in recent] == [httpserver.url_for(p) for p in ("/docs/p5", "/docs/p6", "/blog/x")]


async def test_text_sitemap_and_robots_txt(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/list.txt").respond_with_data(
        f"{httpserver.url_for('/one')}\n\n{httpserver.url_for('/two')}\n", content_type="text/plain")
    httpserver.expect_request("/robots.txt").respond_with_data(
        f"User-agent: *\nDisallow: /private\nSitemap: {httpserver.url_for('/list.txt')}\n")
    found, _ = await walk(sitemap(httpserver.url_for("/robots.txt")))
    assert [r.doc_id for r in found] == [httpserver.url_for("/one"), httpserver.url_for("/two")]


async def test_malformed_and_bombs(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/bad.xml").respond_with_data("<urlset><url><loc>x", content_type="application/xml")
    with pytest.raises(PermanentError, match="malformed sitemap"):
        await walk(sitemap(httpserver.url_for("/bad.xml")))
    httpserver.expect_request("/feed.xml").respond_with_data("<rss/>", content_type="application/xml")
    with pytest.raises(PermanentError, match="not a sitemap"):
        await walk(sitemap(httpserver.url_for("/feed.xml")))
    bomb = gzip.compress(b"<urlset>" + b" " * 5_000_000 + b"</urlset>")
    httpserver.expect_request("/bomb.xml.gz").respond_with_data(bomb, content_type="application/gzip")
    with pytest.raises(PermanentError, match="decompressed body larger"):
        await walk(sitemap(httpserver.url_for("/bomb.xml.gz")))


async def test_cursor_is_json_path_and_offset(httpserver: HTTPServer) -> None:
    _, pages = await walk(sitemap(serve_sitemaps(httpserver, PAGES)), page_size=3)
    state = json.loads(pages[0].next_cursor)
    assert set(state) == {"path", "offset"}

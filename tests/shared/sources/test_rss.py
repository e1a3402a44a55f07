"""The rss source against a real local HTTP server serving RSS 2.0 and Atom."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from shared.errors import ConfigError, PermanentError
from shared.fetching.http import HttpClient
from shared.sources import build_source, parse_spec
from shared.sources.rss import RssSource
from shared.text.extract import detect_format, extract

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Garden news</title><link>{base}/</link><description>d</description>
<item><title>New seeds</title><link>{base}/posts/seeds</link><guid>urn:post:3</guid>
  <pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate>
  <description>&lt;p&gt;Seed catalogue is out.&lt;/p&gt;</description></item>
<item><title>Compost</title><link>{base}/posts/compost</link><guid>urn:post:2</guid>
  <pubDate>Mon, 04 Mar 2024 12:00:00 +0200</pubDate>
  <description>&lt;p&gt;How to compost.&lt;/p&gt;</description></item>
<item><title>Old post</title><link>{base}/posts/old</link>
  <pubDate>Thu, 01 Feb 2024 09:00:00 GMT</pubDate><description>Old.</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom feed</title><id>urn:feed</id>
<updated>2024-03-05T10:00:00Z</updated>
<entry><title>Atom entry</title><id>urn:atom:1</id><link href="/a/1"/>
  <updated>2024-03-05T10:00:00Z</updated>
  <content type="html">&lt;h2&gt;Heading&lt;/h2&gt;
  &lt;p&gt;Full content of the atom entry, long enough.&lt;/p&gt;</content>
</entry>
<entry><title>No date</title><id>urn:atom:2</id><link href="/a/2"/><summary>Just a summary.</summary></entry>
</feed>"""

ARTICLE = "<html><head><title>New seeds</title></head><body><article><p>{}</p></article></body></html>".format(
    "The new seed catalogue lists heirloom tomatoes, beans and squash for the coming season. " * 5
)


def http() -> HttpClient:
    return HttpClient(user_agent="t", timeout=5, max_body_bytes=1_000_000, allowed_networks=["127.0.0.1/32"],
                      concurrency=2, retries=1, backoff=0.01)


def rss_source(url: str, **fields: object) -> RssSource:
    source = build_source(parse_spec({"id": "news", "kind": "rss", "url": url, **fields}), base_dir=None)  # type: ignore[arg-type]
    assert isinstance(source, RssSource)
    return source


def serve_rss(server: HTTPServer) -> str:
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    base = server.url_for("").rstrip("/")
    server.expect_request("/feed.xml").respond_with_data(RSS.format(base=base), content_type="application/rss+xml")
    return server.url_for("/feed.xml")


def test_spec_validation() -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec({"id": "news", "kind": "rss", "url": "ftp://x/feed"})
    assert info.value.problems[0]["field"] == "sources.news.url"
    spec = parse_spec({"id": "news", "kind": "rss", "url": "https://x.test/feed"})
    assert spec.max_items == 200 and spec.fetch_full_text is True  # type: ignore[attr-defined]


async def test_discover_rss(httpserver: HTTPServer) -> None:
    source = rss_source(serve_rss(httpserver))
    assert source.lists_everything is False
    async with http() as client:
        page = await source.discover(cursor=None, since=None, page_size=10, http=client)
    assert page.next_cursor is None
    assert [r.doc_id for r in page.items] == ["urn:post:3", "urn:post:2", httpserver.url_for("/posts/old")]
    first = page.items[0]
    assert first.url == httpserver.url_for("/posts/seeds") and first.title == "New seeds"
    assert first.updated is not None and first.updated.isoformat() == "2024-03-05T10:00:00+00:00"
    assert first.hint == "2024-03-05T10:00:00+00:00"
    assert page.items[1].updated is not None and page.items[1].updated.isoformat() == "2024-03-04T10:00:00+00:00"
    assert page.high_water == "2024-03-05T10:00:00+00:00"


async def test_since_skips_older_and_keeps_ties(httpserver: HTTPServer) -> None:
    source = rss_source(serve_rss(httpserver))
    async with http() as client:
        page = await source.discover(cursor=None, since="2024-03-04T10:00:00Z", page_size=10, http=client)
    assert [r.doc_id for r in page.items] == ["urn:post:3", "urn:post:2"]  # the tie is kept
    assert page.high_water == "2024-03-05T10:00:00+00:00"


async def test_max_items(httpserver: HTTPServer) -> None:
    source = rss_source(serve_rss(httpserver), max_items=1)
    async with http() as client:
        page = await source.discover(cursor=None, since=None, page_size=10, http=client)
    assert [r.doc_id for r in page.items] == ["urn:post:3"]


async def test_fetch_full_text(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/posts/seeds").respond_with_data(ARTICLE, content_type="text/html; charset=utf-8")
    httpserver.expect_request("/posts/compost").respond_with_data("gone", status=404)
    source = rss_source(serve_rss(httpserver))
    async with http() as client:
        page = await source.discover(cursor=None, since=None, page_size=10, http=client)
        fetched = await source.fetch(page.items[0], http=client)
        with pytest.raises(PermanentError, match="HTTP 404"):
            await source.fetch(page.items[1], http=client)
    assert fetched.data == ARTICLE.encode() and fetched.title == "New seeds"
    fmt = detect_format(fetched.url, fetched.content_type)
    assert "heirloom tomatoes" in extract(fetched.data, fmt=fmt, url=fetched.url).text


async def test_atom_entry_content_without_full_text(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/atom.xml").respond_with_data(ATOM, content_type="application/atom+xml")
    source = rss_source(httpserver.url_for("/atom.xml"), fetch_full_text=False)
    async with http() as client:
        page = await source.discover(cursor=None, since="2024-03-01T00:00:00+00:00", page_size=10, http=client)
        ids = [r.doc_id for r in page.items]
        assert ids == ["urn:atom:1", "urn:atom:2"]  # undated entries are kept
        assert page.items[0].url == httpserver.url_for("/a/1")  # relative link resolved
        assert page.items[1].hint is not None and page.items[1].hint.startswith("sha256:")
        fetched = await source.fetch(page.items[0], http=client)
        assert fetched.content_type == "text/html; charset=utf-8"
        text = extract(fetched.data, fmt="html").text
        assert "Full content of the atom entry" in text
        # The entry body travels in the (Blob-staged) ref; a ref without it re-reads the feed once.
        bare = page.items[1].model_copy(update={"content": None, "content_type": None})
        again = await source.fetch(bare, http=client)
        assert "Just a summary." in extract(again.data, fmt="html").text
    assert [e[0].path for e in httpserver.log].count("/atom.xml") == 2


async def test_not_a_feed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data("<<<not xml at all", content_type="text/plain")
    source = rss_source(httpserver.url_for("/feed"))
    async with http() as client:
        with pytest.raises(PermanentError, match="not a readable feed"):
            await source.discover(cursor=None, since=None, page_size=10, http=client)


async def test_conditional_get_of_the_feed(httpserver: HTTPServer) -> None:
    from werkzeug import Request, Response

    base = httpserver.url_for("").rstrip("/")

    def feed(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"f1"':
            return Response(status=304)
        return Response(RSS.format(base=base), content_type="application/rss+xml", headers={"ETag": '"f1"'})

    httpserver.expect_request("/feed.xml").respond_with_handler(feed)
    source = rss_source(httpserver.url_for("/feed.xml"))
    async with http() as client:
        first = await source.discover(cursor=None, since=None, page_size=10, http=client)
        assert first.high_water == '2024-03-05T10:00:00+00:00 http:{"etag": "\\"f1\\""}'
        again = await source.discover(cursor=None, since=first.high_water, page_size=10, http=client)
        assert again.items == [] and again.high_water == first.high_water  # 304: nothing new
        held_back = await source.discover(cursor=None, since="2024-03-04T10:00:00+00:00", page_size=10, http=client)
        assert len(held_back.items) == 2  # a plain mark (held back after failures) sends no validators
    sent = [r.headers.get("If-None-Match") for r, _ in httpserver.log]
    assert sent == [None, '"f1"', None]

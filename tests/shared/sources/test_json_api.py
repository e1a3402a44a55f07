"""The json_api source: every paging style, the field mapping, since_param and bad responses."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from shared.errors import ConfigError, PermanentError
from shared.fetching.http import HttpClient
from shared.sources import build_source, parse_spec
from shared.sources.json_api import JsonApiSource, next_link
from shared.text.extract import extract
from tests.shared.sources.servers import JsonApi, no_robots, serve_json_api

ITEMS = [{"id": i, "title": f"Item {i}", "body": f"Body of item number {i}, long enough to keep.",
          "updated_at": f"2026-06-0{i}T00:00:00Z", "links": {"html": f"/pages/{i}"}} for i in range(1, 6)]
FIELDS = {"id": "id", "title": "title", "text": "body", "updated": "updated_at"}
PAGING = {
    "page": {"style": "page", "size": 2},
    "offset": {"style": "offset", "limit": 2},
    "cursor": {"style": "cursor", "param": "cursor", "field": "meta.next"},
    "next_url": {"style": "next_url", "field": "meta.next"},
    "link": {"style": "link"},
}


def http() -> HttpClient:
    return HttpClient(user_agent="t", timeout=5, max_body_bytes=1_000_000, allowed_networks=["127.0.0.1/32"],
                      concurrency=4, retries=1, backoff=0.01)


def api_source(url: str, **fields: object) -> JsonApiSource:
    data = {"id": "api", "kind": "json_api", "url": url, "items": "data.items", "fields": FIELDS, **fields}
    source = build_source(parse_spec(data), base_dir=None)  # type: ignore[arg-type]
    assert isinstance(source, JsonApiSource)
    return source


async def walk(source: JsonApiSource, since: str | None = None) -> tuple[list, list[str | None]]:
    items, marks, cursor = [], [], None
    async with http() as client:
        for _ in range(20):
            page = await source.discover(cursor=cursor, since=since, page_size=100, http=client)
            items += page.items
            marks.append(page.high_water)
            if page.next_cursor is None:
                return items, marks
            cursor = page.next_cursor
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("style", sorted(PAGING))
async def test_each_paging_style(httpserver: HTTPServer, style: str) -> None:
    api = JsonApi(list(ITEMS), style=style, size=2)
    items, marks = await walk(api_source(serve_json_api(httpserver, api), paging=PAGING[style]))
    assert [r.doc_id for r in items] == ["1", "2", "3", "4", "5"]
    assert max(m for m in marks if m) == "2026-06-05T00:00:00+00:00"
    assert items[0].content == ITEMS[0]["body"] and items[0].hint == "2026-06-01T00:00:00+00:00"


async def test_text_or_link_and_params(httpserver: HTTPServer) -> None:
    no_robots(httpserver)
    api = JsonApi(list(ITEMS[:2]), style="cursor", size=10)
    url = serve_json_api(httpserver, api)
    httpserver.expect_request("/pages/1").respond_with_data(
        "<html><body><article><p>The page of item one.</p></article></body></html>", content_type="text/html")
    source = api_source(url, fields={"id": "id", "title": "title", "url": "links.html"},
                        params={"lang": "en", "draft": False})
    items, _ = await walk(source)
    assert items[0].url == httpserver.url_for("/pages/1") and items[0].content is None
    assert api.requests[0] == {"lang": "en", "draft": "false"}
    async with http() as client:
        fetched = await source.fetch(items[0], http=client)
    assert "page of item one" in extract(fetched.data, fmt="html").text


async def test_since_param_needs_detect_deletions_off(httpserver: HTTPServer) -> None:
    with pytest.raises(ConfigError, match="detect_deletions"):
        api_source("https://api.example/x", since_param="since")
    api = JsonApi(list(ITEMS), style="cursor", size=10)
    source = api_source(serve_json_api(httpserver, api), since_param="since", detect_deletions=False)
    items, _ = await walk(source, since="2026-06-04T00:00:00+00:00")
    assert [r.doc_id for r in items] == ["4", "5"]
    assert api.requests[0]["since"] == "2026-06-04T00:00:00+00:00"


async def test_bad_responses(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/notjson").respond_with_data("<html>", content_type="application/json")
    with pytest.raises(PermanentError, match="not JSON"):
        await walk(api_source(httpserver.url_for("/notjson")))
    httpserver.expect_request("/wrong").respond_with_json({"data": {"items": {"a": 1}}})
    with pytest.raises(PermanentError, match="no list of items"):
        await walk(api_source(httpserver.url_for("/wrong")))
    httpserver.expect_request("/image").respond_with_data(b"\x89PNG", content_type="image/png")
    with pytest.raises(PermanentError, match="content type image/png not accepted"):
        await walk(api_source(httpserver.url_for("/image")))
    httpserver.expect_request("/loop").respond_with_json({"data": {"items": [{"id": 1}]}, "meta": {"next": "/loop"}})
    with pytest.raises(PermanentError, match="same page"):
        await walk(api_source(httpserver.url_for("/loop"), paging=PAGING["next_url"]))


async def test_items_without_id_are_left_out(httpserver: HTTPServer) -> None:
    body = {"data": {"items": [{"title": "no id"}, {"id": 7, "body": "x"}]}}
    httpserver.expect_request("/ids").respond_with_json(body)
    items, _ = await walk(api_source(httpserver.url_for("/ids")))
    assert [r.doc_id for r in items] == ["7"]


def test_mapping_needs_text_or_url() -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec({"id": "api", "kind": "json_api", "url": "https://a.example/x", "fields": {"id": "id"}})
    assert "text" in info.value.problems[0]["message"]


def test_link_header() -> None:
    header = '<https://a.example/x?p=1>; rel="prev", </x?p=3>; rel="next last"'
    assert next_link(header, "https://a.example/x?p=2") == "https://a.example/x?p=3"
    assert next_link(None, "https://a.example/") is None

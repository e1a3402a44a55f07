"""The oai_pmh source against a local OAI-PMH repository: paging, from=, errors, deletions, full text."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from shared.errors import ConfigError, PermanentError
from shared.fetching.http import HttpClient
from shared.sources import build_source, parse_spec
from shared.sources.oai_pmh import OaiPmhSource
from shared.text.extract import extract
from tests.shared.sources.servers import OaiRecord, OaiRepository, no_robots, serve_oai

RECORDS = [
    OaiRecord("oai:x:1", "2026-06-01", "Tides", "Spring tides come at new and full moon, twice a month."),
    OaiRecord("oai:x:2", "2026-06-02T10:00:00Z", "Bees", "Bees cluster to keep warm through the winter."),
    OaiRecord("oai:x:3", "2026-06-03", deleted=True),
    OaiRecord("oai:x:4", "2026-06-04", "Ferries", "The ferry crosses the strait.", links=["https://doi.example/4"]),
    OaiRecord("oai:x:5", "2026-06-05", "Comets", "Comets grow tails near the sun."),
]


def http() -> HttpClient:
    return HttpClient(user_agent="Harvest-test/1", timeout=5, max_body_bytes=1_000_000,
                      allowed_networks=["127.0.0.1/32"], concurrency=4, retries=1, backoff=0.01)


def oai_source(url: str, **fields: object) -> OaiPmhSource:
    source = build_source(parse_spec({"id": "repo", "kind": "oai_pmh", "url": url, **fields}), base_dir=None)  # type: ignore[arg-type]
    assert isinstance(source, OaiPmhSource)
    return source


async def list_all(source: OaiPmhSource, since: str | None = None) -> tuple[list, list, list[str | None]]:
    items, deleted, marks, cursor = [], [], [], None
    async with http() as client:
        while True:
            page = await source.discover(cursor=cursor, since=since, page_size=100, http=client)
            items += page.items
            deleted += page.deleted
            marks.append(page.high_water)
            if page.next_cursor is None:
                return items, deleted, marks
            cursor = page.next_cursor


def test_spec() -> None:
    spec = parse_spec({"id": "repo", "kind": "oai_pmh", "url": "https://repo.example/oai"})
    assert spec.metadata_prefix == "oai_dc" and spec.full_text is False  # type: ignore[attr-defined]
    with pytest.raises(ConfigError) as info:
        parse_spec({"id": "repo", "kind": "oai_pmh", "url": "https://r.example/oai", "link_pattern": "("})
    assert info.value.problems[0]["field"] == "sources.repo.link_pattern"


async def test_resumption_tokens_deletions_and_metadata(httpserver: HTTPServer) -> None:
    repo = OaiRepository(list(RECORDS))
    source = oai_source(serve_oai(httpserver, repo))
    items, deleted, marks = await list_all(source)
    assert [r.doc_id for r in items] == ["oai:x:1", "oai:x:2", "oai:x:4", "oai:x:5"]
    assert [r.doc_id for r in deleted] == ["oai:x:3"]
    assert len(repo.requests) == 3 and "resumptionToken" in repo.requests[1]
    assert repo.requests[0] == {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    assert max(m for m in marks if m) == "2026-06-05T00:00:00+00:00"
    first = items[0]
    assert first.hint == "2026-06-01T00:00:00+00:00" and first.title == "Tides"
    assert first.content is not None and first.content.startswith("# Tides\n\nSpring tides")
    assert "**creator**: Harvest Tests" in first.content
    assert items[2].url == "https://doi.example/4"  # a record's own link is its provenance
    async with http() as client:
        fetched = await source.fetch(first, http=client)
    assert "Spring tides" in extract(fetched.data, fmt="markdown").text


async def test_from_and_no_records_match(httpserver: HTTPServer) -> None:
    repo = OaiRepository(list(RECORDS))
    source = oai_source(serve_oai(httpserver, repo), granularity="day")
    items, _, _ = await list_all(source, since="2026-06-04T00:00:00+00:00")
    assert [r.doc_id for r in items] == ["oai:x:4", "oai:x:5"]
    assert repo.requests[0]["from"] == "2026-06-04"
    items, deleted, marks = await list_all(source, since="2027-01-01T00:00:00+00:00")
    assert items == [] and deleted == [] and marks == [None]


async def test_bad_resumption_token_restarts_the_list(httpserver: HTTPServer) -> None:
    repo = OaiRepository(list(RECORDS), expire_next_token=True)
    source = oai_source(serve_oai(httpserver, repo))
    items, _, _ = await list_all(source)
    ids = [r.doc_id for r in items]
    assert set(ids) == {"oai:x:1", "oai:x:2", "oai:x:4", "oai:x:5"}  # restarted: nothing lost
    assert ids.count("oai:x:1") == 2  # the first page came twice; hints make the repeat cheap


async def test_repeated_bad_tokens_give_up(httpserver: HTTPServer) -> None:
    repo = OaiRepository(list(RECORDS), expire_next_token=True)
    source = oai_source(serve_oai(httpserver, repo), max_recoveries=0)
    with pytest.raises(PermanentError, match="badResumptionToken"):
        await list_all(source)


async def test_oai_errors_and_malformed_responses(httpserver: HTTPServer) -> None:
    repo = OaiRepository(list(RECORDS))
    url = serve_oai(httpserver, repo)
    with pytest.raises(PermanentError, match="cannotDisseminateFormat: no such format"):
        await list_all(oai_source(url, metadata_prefix="marc"))
    httpserver.expect_request("/broken").respond_with_data("<OAI-PMH><ListRecords><record>", content_type="text/xml")
    with pytest.raises(PermanentError, match="malformed OAI-PMH response"):
        await list_all(oai_source(httpserver.url_for("/broken")))
    httpserver.expect_request("/html").respond_with_data("<html><body>hi</body></html>", content_type="text/xml")
    with pytest.raises(PermanentError, match="not an OAI-PMH response"):
        await list_all(oai_source(httpserver.url_for("/html")))


async def test_entities_are_not_expanded(httpserver: HTTPServer) -> None:
    evil = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record><header>'
            '<identifier>oai:e</identifier><datestamp>2026-01-01</datestamp></header><metadata>'
            '<dc xmlns="http://purl.org/dc/elements/1.1/"><title>&e;</title></dc></metadata></record>'
            '</ListRecords></OAI-PMH>')
    httpserver.expect_request("/evil").respond_with_data(evil, content_type="text/xml")
    items, _, _ = await list_all(oai_source(httpserver.url_for("/evil")))
    assert "root:" not in (items[0].content or "")


async def test_full_text_from_the_record_link(httpserver: HTTPServer) -> None:
    no_robots(httpserver)
    pdf_like = httpserver.url_for("/files/4.html")
    records = [OaiRecord("oai:x:4", "2026-06-04", "Ferries", "Abstract.", links=["https://doi.example/4", pdf_like]),
               OaiRecord("oai:x:6", "2026-06-06", "No file", "Only metadata here, no file link.")]
    httpserver.expect_request("/files/4.html").respond_with_data(
        "<html><body><article><p>The full text of the ferry paper.</p></article></body></html>",
        content_type="text/html")
    source = oai_source(serve_oai(httpserver, OaiRepository(records)), full_text=True, link_pattern=r"/files/")
    items, _, _ = await list_all(source)
    assert items[0].url == pdf_like and items[0].content is None
    assert items[1].content is not None  # no matching link: metadata only
    async with http() as client:
        fetched = await source.fetch(items[0], http=client)
    assert "full text of the ferry paper" in extract(fetched.data, fmt="html").text

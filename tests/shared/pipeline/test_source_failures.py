"""Real sources through the real stages and Azurite: each misbehaviour of a server ends as the right
per-document failure, retry or skip (with counts), the source ``partial``, and nothing stored is harmed."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from shared.pipeline.context import Context, open_context
from shared.runs.outcome import source_status
from shared.settings import Settings
from shared.storage import layout, records
from tests.shared.pipeline.hosted import RunSource
from tests.shared.sources.servers import OaiRecord, OaiRepository, page_html, serve_oai

TEXT = "Rivers carry sediment to the sea, where it settles into deltas that shift with every flood."
FRENCH = "Les rivières transportent les sédiments jusqu'à la mer, où ils forment des deltas mouvants."


async def make_ctx(azurite: str, tmp_path: Path, manifest: str) -> AsyncIterator[Context]:
    (tmp_path / "sources.yaml").write_text(manifest)
    settings = Settings(storage_connection=azurite, container=f"f-{uuid.uuid4().hex[:12]}",
                        manifest=str(tmp_path / "sources.yaml"), embedder="hashing", chunk_tokens=64,
                        chunk_overlap=8, batch_size=8, allowed_private_networks="127.0.0.1/32",
                        max_body_bytes=100_000,
                        # the test server answers one request at a time: "/slow" would stall a parallel batch
                        max_parallel_batches=1)
    async with open_context(settings) as ctx:
        await ctx.store.ensure_container()
        yield ctx


def feed(server: HTTPServer, paths: list[str]) -> str:
    items = "".join(f"<item><title>{p}</title><link>{server.url_for(p)}</link><guid>{p}</guid>"
                    f"<pubDate>Mon, 01 Jun 2026 10:00:00 GMT</pubDate></item>" for p in paths)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>"


def once_then(first: Response, then: Response) -> object:
    calls = itertools.count()
    return lambda _r: first if next(calls) == 0 else then


async def test_misbehaving_servers(run_source: RunSource, azurite: str, tmp_path: Path, httpserver: HTTPServer,
                                   other_server: HTTPServer) -> None:
    ok = lambda title: Response(page_html(title, TEXT + " " + title), content_type="text/html")  # noqa: E731
    handlers = {
        "/ok1": ok("One"), "/ok2": ok("Two"),
        "/r429": once_then(Response("slow down", status=429, headers={"Retry-After": "1"}), ok("Limited")),
        "/r503": once_then(Response("busy", status=503), ok("Busy")),
        "/badhtml": Response("<html><body><div><p>Unclosed tags, but a sentence about rivers and deltas "
                             "survives<div><<<>>", content_type="text/html"),
        "/short": Response("<html><body><p>Hi.</p></body></html>", content_type="text/html"),
        "/dup": Response(page_html("One", TEXT + " One"), content_type="text/html"),
        "/french": Response(page_html("Rivières", FRENCH), content_type="text/html"),
        "/private/x": ok("Private"),
        "/gone": Response("gone", status=404),
        "/pdf": Response(b"%PDF-1.7 this is not really a pdf", content_type="application/pdf"),
        "/endless": lambda _r: Response((b"<p>more</p>" for _ in itertools.count()), content_type="text/html"),
        "/slow": lambda _r: (time.sleep(1.5), ok("Late"))[1],
        "/refused": Response("", status=302, headers={"Location": other_server.url_for("/internal")}),
    }
    other_server.expect_request("/internal").respond_with_data("internal")
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    httpserver.expect_request("/feed.xml").respond_with_data(feed(httpserver, list(handlers)),
                                                             content_type="application/rss+xml")
    for path, handler in handlers.items():
        if isinstance(handler, Response):
            httpserver.expect_request(path).respond_with_response(handler)
        else:
            httpserver.expect_request(path).respond_with_handler(handler)  # type: ignore[arg-type]
    manifest = (f"sources:\n  - id: news\n    kind: rss\n    url: {httpserver.url_for('/feed.xml')}\n"
                "    languages: [en]\n    timeout: {read: 0.4, total: 1}\n")
    async for ctx in make_ctx(azurite, tmp_path, manifest):
        counts = await run_source(ctx, "run-1", "news")
        assert (counts.added, counts.failed) == (5, 5), counts
        assert (counts.skipped_robots, counts.skipped_short, counts.skipped_duplicate, counts.skipped_language) == \
            (1, 1, 1, 1)
        assert source_status(counts, failure_threshold=0.6) == "partial"
        assert other_server.log == []  # the redirect to a refused address was never followed
        blocked = [r for r, _ in httpserver.log if r.path == "/private/x"]
        assert blocked == []
        stored = {rec.doc_id: rec.current for rec in await records.list_docs(ctx.store, "news")}
        expected = {httpserver.url_for(p) for p in ("/ok2", "/r429", "/r503", "/badhtml")}
        assert set(stored) - expected in ({httpserver.url_for("/ok1")}, {httpserver.url_for("/dup")})

        # Now the good pages break too; a full refresh must leave what is stored as it was.
        httpserver.clear()
        httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
        httpserver.expect_request("/feed.xml").respond_with_data(feed(httpserver, ["/ok1", "/ok2"]),
                                                                 content_type="application/rss+xml")
        httpserver.expect_request("/ok1").respond_with_data("boom", status=500)
        httpserver.expect_request("/ok2").respond_with_data("<html><body><p>x</p></body></html>", status=404)
        again = await run_source(ctx, "run-2", "news", full_refresh=True)
        assert (again.failed, again.added, again.updated, again.deleted) == (2, 0, 0, 0)
        after = {rec.doc_id: rec.current for rec in await records.list_docs(ctx.store, "news")}
        assert after == stored
        for blob in stored.values():
            assert blob is not None and await ctx.store.exists(blob)


async def test_conditional_get_and_oai_deletions(run_source: RunSource,
                                                 azurite: str, tmp_path: Path, httpserver: HTTPServer) -> None:
    def page(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(page_html("Page", TEXT), content_type="text/html", headers={"ETag": '"v1"'})

    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/sitemap.txt").respond_with_data(httpserver.url_for("/page") + "\n")
    httpserver.expect_request("/page").respond_with_handler(page)
    repo = OaiRepository([OaiRecord("oai:1", "2026-06-01", "Tides", TEXT),
                          OaiRecord("oai:2", "2026-06-02", "Bees", "Bees cluster to keep warm through the winter.")])
    manifest = (f"sources:\n  - {{id: site, kind: sitemap, url: '{httpserver.url_for('/sitemap.txt')}'}}\n"
                f"  - {{id: repo, kind: oai_pmh, url: '{serve_oai(httpserver, repo)}'}}\n")
    async for ctx in make_ctx(azurite, tmp_path, manifest):
        assert (await run_source(ctx, "run-1", "site")).added == 1
        second = await run_source(ctx, "run-2", "site")
        assert (second.unchanged, second.added, second.failed) == (1, 0, 0)
        conditional = [r for r, _ in httpserver.log if r.path == "/page" and r.headers.get("If-None-Match")]
        assert len(conditional) == 1  # the second run got a 304, no body

        assert (await run_source(ctx, "run-1", "repo")).added == 2
        repo.records[1] = OaiRecord("oai:2", "2026-06-09", deleted=True)
        gone = await run_source(ctx, "run-3", "repo")
        assert gone.deleted == 1
        rec = await records.read_doc(ctx.store, "repo", "oai:2")
        assert rec is not None and rec.deleted and rec.current is None
        assert await ctx.store.exists(layout.tombstone_blob("repo", "oai:2", "run-3"))
        kept = await records.read_doc(ctx.store, "repo", "oai:1")
        assert kept is not None and not kept.deleted

"""Issue 12 item 13: a document that failed permanently (404, refused address, oversized body) is not fetched
again on every run: it waits 1 day, then 2, 4, ... (capped); a full refresh or a changed hint retries at once,
and a success forgets it. A local server counts the requests."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from shared.storage import failures, layout
from tests.shared.pipeline.hosted import RunSource
from tests.shared.pipeline.test_source_failures import TEXT, feed, make_ctx
from tests.shared.sources.servers import page_html


async def test_permanent_failures_wait_with_backoff(run_source: RunSource,
                                                    azurite: str, tmp_path: Path, httpserver: HTTPServer) -> None:
    hits: Counter[str] = Counter()
    fixed = {"now": False}

    def handler(request: Request) -> Response:
        hits[request.path] += 1
        if request.path == "/ok" or (request.path == "/gone" and fixed["now"]):
            return Response(page_html("Fine", TEXT + request.path), content_type="text/html")
        if request.path == "/huge":
            return Response("<p>" + "x" * 200_000 + "</p>", content_type="text/html")
        return Response("gone", status=404)

    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/feed.xml").respond_with_data(feed(httpserver, ["/ok", "/gone", "/huge"]),
                                                             content_type="application/rss+xml")
    for path in ("/ok", "/gone", "/huge"):
        httpserver.expect_request(path).respond_with_handler(handler)
    manifest = f"sources:\n  - id: news\n    kind: rss\n    url: {httpserver.url_for('/feed.xml')}\n"
    async for ctx in make_ctx(azurite, tmp_path, manifest):
        first = await run_source(ctx, "run-1", "news")
        assert (first.added, first.failed, first.deferred) == (1, 2, 0)
        remembered = await failures.load(ctx.store, "news")
        gone = httpserver.url_for("/gone")
        assert set(remembered) == {gone, httpserver.url_for("/huge")}
        assert "404" in remembered[gone]["reason"] and remembered[gone]["attempts"] == 1
        failed_at = datetime.fromisoformat(remembered[gone]["failed_at"])
        assert datetime.fromisoformat(remembered[gone]["retry_at"]) - failed_at == timedelta(days=1)

        second = await run_source(ctx, "run-2", "news")
        assert (second.failed, second.deferred) == (0, 2)
        assert (hits["/gone"], hits["/huge"]) == (1, 1)  # not fetched again

        # its retry time has come: fetched again, fails again, now waits 2 days
        name = layout.failures_blob("news")
        value, _ = await ctx.store.read_json(name)
        value["docs"][gone]["retry_at"] = "2000-01-01T00:00:00+00:00"
        await ctx.store.write_json(name, value)
        third = await run_source(ctx, "run-3", "news")
        assert (third.failed, third.deferred, hits["/gone"], hits["/huge"]) == (1, 1, 2, 1)
        entry = (await failures.load(ctx.store, "news"))[gone]
        assert entry["attempts"] == 2
        assert datetime.fromisoformat(entry["retry_at"]) - datetime.fromisoformat(entry["failed_at"]) == \
            timedelta(days=2)

        # a full refresh retries everything; a success forgets the failure
        fixed["now"] = True
        full = await run_source(ctx, "run-4", "news", full_refresh=True)
        assert (full.added, full.failed, full.deferred, hits["/gone"], hits["/huge"]) == (1, 1, 0, 3, 2)
        assert set(await failures.load(ctx.store, "news")) == {httpserver.url_for("/huge")}


def test_backoff_doubles_and_is_capped() -> None:
    assert [failures.backoff(n, 24, 24 * 32).days for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 32, 32]

"""A local web site over a generated corpus folder: an RSS feed, a sitemap and one HTML page per document.

Everything is derived from the folder at request time, so the corpus edit step (``bench.corpus``) shows
up on the site as it would on a real one: an edited document has a newer ``pubDate``/``lastmod``, a
deleted one is gone from the feed and answers 404.

    site = Site(root)            # root holds corpus.json and docs/
    base_url = await site.start()   # http://127.0.0.1:<port>
    ...  feed: {base_url}/feed.xml, sitemap: {base_url}/sitemap.xml
    await site.stop()
"""

from __future__ import annotations

import asyncio
import html
import os
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.corpus import html_page


def _to_html(path: Path) -> str:
    """A page for any corpus file: HTML as written, Markdown/text wrapped paragraph by paragraph."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        return text
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    title = blocks[0].lstrip("# ").strip() if blocks else path.stem
    sections: list[tuple[str, list[str]]] = [("", [])]
    for block in blocks[1:]:
        if block.startswith("## ") or (path.suffix == ".txt" and len(block.split()) <= 8 and "." not in block):
            sections.append((block.lstrip("# ").strip(), []))
        else:
            sections[-1][1].append(block)
    return html_page(title, sections)


class Site:
    """``delay``: seconds added to every request's answer (a site far away: the latency suite's 1 s)."""

    def __init__(self, root: Path, host: str = "127.0.0.1", *, delay: float = 0.0) -> None:
        self.root = Path(root)
        self.host = host
        self.delay = delay
        self.base_url = ""
        self.requests = 0
        self._runner: web.AppRunner | None = None

    def _entries(self) -> list[tuple[str, int]]:
        """(doc id, mtime) of every document present, newest first."""
        docs = self.root / "docs"
        found = []
        for dirpath, _, names in os.walk(docs):
            for name in names:
                full = Path(dirpath, name)
                found.append((full.relative_to(docs).as_posix(), int(full.stat().st_mtime)))
        return sorted(found, key=lambda e: (-e[1], e[0]))

    def _link(self, doc_id: str) -> str:
        return f"{self.base_url}/docs/{doc_id}"

    async def feed(self, request: web.Request) -> web.Response:
        self.requests += 1
        items = []
        for doc_id, mtime in self._entries():
            when = format_datetime(datetime.fromtimestamp(mtime, UTC), usegmt=True)
            items.append(
                f"<item><title>{html.escape(doc_id)}</title><link>{self._link(doc_id)}</link>"
                f"<guid isPermaLink=\"false\">{html.escape(doc_id)}</guid><pubDate>{when}</pubDate></item>"
            )
        body = (
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>"
            f"<title>Harvest benchmark corpus</title><link>{self.base_url}/</link>"
            "<description>Generated prose</description>\n" + "\n".join(items) + "\n</channel></rss>\n"
        )
        return web.Response(text=body, content_type="application/rss+xml")

    async def sitemap(self, request: web.Request) -> web.Response:
        self.requests += 1
        urls = [
            f"<url><loc>{self._link(doc_id)}</loc>"
            f"<lastmod>{datetime.fromtimestamp(mtime, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}</lastmod></url>"
            for doc_id, mtime in self._entries()
        ]
        body = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n" + "\n".join(urls) + "\n</urlset>\n"
        )
        return web.Response(text=body, content_type="application/xml")

    async def page(self, request: web.Request) -> web.Response:
        self.requests += 1
        rel = request.match_info["path"]
        path = (self.root / "docs" / rel).resolve()
        if self.root.resolve() not in path.parents or not path.is_file():
            raise web.HTTPNotFound()
        stamp = datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
        return web.Response(text=_to_html(path), content_type="text/html",
                            headers={"Last-Modified": format_datetime(stamp, usegmt=True)})

    async def robots(self, request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")

    @web.middleware
    async def _latency(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.delay:
            await asyncio.sleep(self.delay)
        response: web.StreamResponse = await handler(request)
        return response

    async def start(self, port: int = 0) -> str:
        app = web.Application(middlewares=[self._latency])
        app.add_routes([
            web.get("/feed.xml", self.feed), web.get("/sitemap.xml", self.sitemap),
            web.get("/robots.txt", self.robots), web.get("/docs/{path:.+}", self.page),
        ])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        server = getattr(site, "_server", None)
        bound = int(server.sockets[0].getsockname()[1]) if server is not None and server.sockets else port
        self.base_url = f"http://{self.host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

"""Local servers that speak each source protocol (on pytest-httpserver), shared by source, pipeline and
end-to-end tests. Each ``serve_*`` registers handlers on one ``HTTPServer`` and returns the URL to put
in the manifest; the protocol state (records, pages) is plain data the test can change between runs."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
DC = 'xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/"'


def no_robots(server: HTTPServer) -> None:
    server.expect_request("/robots.txt").respond_with_data("", status=404)


def page_html(title: str, text: str) -> str:
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{text}</p><p>{text}</p></article></body></html>")


@dataclass
class OaiRecord:
    identifier: str
    datestamp: str
    title: str = ""
    description: str = ""
    links: list[str] = field(default_factory=list)
    deleted: bool = False

    def xml(self) -> str:
        status = ' status="deleted"' if self.deleted else ""
        header = (f"<header{status}><identifier>{self.identifier}</identifier>"
                  f"<datestamp>{self.datestamp}</datestamp></header>")
        if self.deleted:
            return f"<record>{header}</record>"
        links = "".join(f"<dc:identifier>{u}</dc:identifier>" for u in self.links)
        return (f"<record>{header}<metadata><oai_dc:dc {DC}><dc:title>{self.title}</dc:title>"
                f"<dc:creator>Harvest Tests</dc:creator><dc:description>{self.description}</dc:description>"
                f"{links}</oai_dc:dc></metadata></record>")


@dataclass
class OaiRepository:
    """ListRecords with ``page_size`` records per response, ``from=`` (day granularity) and tokens
    ``t{offset}:{from}``; ``expire_next_token`` answers the next token request with badResumptionToken."""

    records: list[OaiRecord]
    page_size: int = 2
    expire_next_token: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)
    required_header: tuple[str, str] | None = None

    def _wrap(self, body: str) -> Response:
        xml = (f'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="{OAI_NS}">'
               f"<responseDate>2026-06-10T00:00:00Z</responseDate><request>x</request>{body}</OAI-PMH>")
        return Response(xml, content_type="text/xml; charset=utf-8")

    def handle(self, request: Request) -> Response:
        args = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.requests.append(args)
        if self.required_header and request.headers.get(self.required_header[0]) != self.required_header[1]:
            return Response("unauthorized", status=401)
        if args.get("verb") != "ListRecords":
            return self._wrap('<error code="badVerb">only ListRecords here</error>')
        if "resumptionToken" in args:
            if self.expire_next_token:
                self.expire_next_token = False
                return self._wrap('<error code="badResumptionToken">expired</error>')
            offset_text, _, since = args["resumptionToken"][1:].partition(":")
            offset = int(offset_text)
        elif args.get("metadataPrefix") != "oai_dc":
            return self._wrap('<error code="cannotDisseminateFormat">no such format</error>')
        else:
            offset, since = 0, args.get("from", "")
        chosen = [r for r in self.records if not since or r.datestamp[:10] >= since[:10]]
        if not chosen:
            return self._wrap('<error code="noRecordsMatch">nothing</error>')
        page = chosen[offset: offset + self.page_size]
        more = offset + self.page_size < len(chosen)
        token = f"<resumptionToken>t{offset + self.page_size}:{since}</resumptionToken>" if more \
            else "<resumptionToken/>"
        return self._wrap(f"<ListRecords>{''.join(r.xml() for r in page)}{token}</ListRecords>")


def serve_oai(server: HTTPServer, repo: OaiRepository, path: str = "/oai") -> str:
    server.expect_request(path).respond_with_handler(repo.handle)
    return server.url_for(path)


def urlset(urls: list[tuple[str, str | None]]) -> str:
    body = "".join(f"<url><loc>{u}</loc>{f'<lastmod>{m}</lastmod>' if m else ''}</url>" for u, m in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'


def sitemap_index(children: list[tuple[str, str | None]]) -> str:
    body = "".join(f"<sitemap><loc>{u}</loc>{f'<lastmod>{m}</lastmod>' if m else ''}</sitemap>"
                   for u, m in children)
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</sitemapindex>'


def serve_sitemaps(server: HTTPServer, pages: dict[str, str | None], prefix: str = "/sm") -> str:
    """An index → (a nested index → a gzipped urlset) + a plain urlset, splitting ``pages`` (path → lastmod)."""
    items = [(server.url_for(p), m) for p, m in pages.items()]
    half = len(items) // 2
    server.expect_request(f"{prefix}/index.xml").respond_with_data(sitemap_index(
        [(server.url_for(f"{prefix}/nested.xml"), "2026-06-01"), (server.url_for(f"{prefix}/b.xml"), None)]),
        content_type="application/xml")
    server.expect_request(f"{prefix}/nested.xml").respond_with_data(
        sitemap_index([(server.url_for(f"{prefix}/a.xml.gz"), None)]), content_type="application/xml")
    server.expect_request(f"{prefix}/a.xml.gz").respond_with_data(
        gzip.compress(urlset(items[:half]).encode()), content_type="application/gzip")
    server.expect_request(f"{prefix}/b.xml").respond_with_data(urlset(items[half:]), content_type="text/xml")
    return server.url_for(f"{prefix}/index.xml")


@dataclass
class JsonApi:
    """``GET {path}`` returns ``{"data": {"items": [...]}, "meta": {"next": cursor}}`` in the given paging style."""

    items: list[dict[str, Any]]
    style: str = "cursor"
    size: int = 2
    required_header: tuple[str, str] | None = None
    requests: list[dict[str, str]] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        args = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.requests.append(args)
        if self.required_header and request.headers.get(self.required_header[0]) != self.required_header[1]:
            return Response("unauthorized", status=401)
        items = self.items
        if "since" in args:
            items = [i for i in items if i["updated_at"] >= args["since"]]
        if self.style == "page":
            start = (int(args.get("page", "1")) - 1) * int(args.get("per_page", self.size))
            size = int(args.get("per_page", self.size))
        elif self.style == "offset":
            start, size = int(args.get("offset", "0")), int(args.get("limit", self.size))
        else:
            start, size = int(args.get("cursor", args.get("at", "0"))), self.size
        chunk = items[start: start + size]
        more = start + size < len(items)
        body: dict[str, Any] = {"data": {"items": chunk}, "meta": {}}
        headers = {}
        base = request.base_url
        if self.style == "cursor" and more:
            body["meta"]["next"] = str(start + size)
        if self.style == "next_url" and more:
            body["meta"]["next"] = f"{urlsplit(base).path}?at={start + size}"
        if self.style == "link" and more:
            headers["Link"] = f'<{base}?at={start + size}>; rel="next", <{base}?at=0>; rel="first"'
        return Response(json.dumps(body), content_type="application/json", headers=headers)


def serve_json_api(server: HTTPServer, api: JsonApi, path: str = "/api/items") -> str:
    server.expect_request(path).respond_with_handler(api.handle)
    return server.url_for(path)

"""``oai_pmh``: a repository's ``ListRecords`` (OAI-PMH 2.0), incremental from the high-water mark.

One discovery page is one OAI-PMH response; the cursor carries the ``resumptionToken``. ``from=`` is the
high-water mark (the newest record datestamp seen) at the repository's ``granularity`` — inclusive, so
the newest records are listed again next time and their unchanged datestamps (the change hint) skip
them. ``noRecordsMatch`` is an empty result. ``badResumptionToken`` (expired tokens are common) restarts
the list from the original ``from=``; already-processed records come back with the same hint and are
skipped cheaply; after ``max_recoveries`` restarts the source fails. Other OAI errors fail the source
with the repository's code and message. Deleted records (``status="deleted"``) become tombstones.

Each record becomes one document: with ``full_text`` the first URL among its ``link_elements`` (matching
``link_pattern``, e.g. ``\\.pdf$``) is fetched; otherwise — or when a record has no such link — its
metadata, rendered as Markdown, is the document.

Why not sickle / oaipmh-scythe: both fetch with their own synchronous HTTP clients (requests / httpx),
which would bypass the SSRF guard, robots/rate-limit policy and retries of ``shared.fetching.http`` and block
the event loop. The protocol is small; lxml parses it (with entities and network access disabled).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import Field, field_validator

from shared.errors import PermanentError
from shared.fetching.http import HttpClient
from shared.models import DocumentRef
from shared.sources.base import DiscoveryPage, Fetched
from shared.sources.parsing import check_patterns, child_text, children, iso, later, local, parse_time, parse_xml
from shared.sources.web import XML_TYPES, HttpSourceSpec, SourceHttp, inline_document

TITLE_FIELDS = ("title",)
TEXT_FIELDS = ("description", "abstract")


class OaiPmhSpec(HttpSourceSpec):
    kind: Literal["oai_pmh"] = "oai_pmh"
    url: str = Field(pattern=r"^https?://[^\s?#]+$", description="The repository's base URL.")
    metadata_prefix: str = Field(default="oai_dc", pattern=r"^[A-Za-z0-9_.-]+$")
    set: str | None = None
    granularity: Literal["day", "seconds"] = "day"
    full_text: bool = False
    link_elements: list[str] = Field(default_factory=lambda: ["identifier", "relation"], min_length=1)
    link_pattern: str | None = None
    max_recoveries: int = Field(default=3, ge=0, le=20)

    @field_validator("link_pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        return None if v is None else check_patterns([v])[0]


def _from_param(since: str, granularity: str) -> str | None:
    when = parse_time(since.split(" ", 1)[0])
    if when is None:
        return None
    return when.strftime("%Y-%m-%d") if granularity == "day" else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata_markdown(title: str | None, metadata: Any) -> str:
    """A record's metadata as Markdown: the title as a heading, descriptions as paragraphs, the rest as
    ``**field**: value`` lines (one per distinct value, in document order)."""
    fields: dict[str, list[str]] = {}
    if metadata is not None:
        for element in metadata.iter():
            text = (element.text or "").strip() if len(element) == 0 else ""
            name = local(element.tag)
            if text and name and text not in fields.get(name, []):
                fields.setdefault(name, []).append(text)
    lines = [f"# {title}", ""] if title else []
    for name in TEXT_FIELDS:
        for value in fields.pop(name, []):
            lines += [value, ""]
    for name in TITLE_FIELDS:
        fields.pop(name, None)
    lines += [f"**{name}**: {value}" for name, values in fields.items() for value in values]
    return "\n".join(lines).strip() + "\n"


class OaiPmhSource:
    Spec = OaiPmhSpec
    lists_everything = False  # incremental by datestamp
    reports_deletions = True  # deleted records are listed (``detect_deletions: false`` ignores them)

    def __init__(self, spec: OaiPmhSpec, **_: Any) -> None:
        self.spec = spec

    def web(self, http: HttpClient) -> SourceHttp:
        return SourceHttp.of(http, self.spec, [self.spec.url])

    def _list_url(self, since: str | None, token: str | None) -> str:
        params = {"verb": "ListRecords"}
        if token:
            params["resumptionToken"] = token
        else:
            params["metadataPrefix"] = self.spec.metadata_prefix
            if self.spec.set:
                params["set"] = self.spec.set
            if since and (start := _from_param(since, self.spec.granularity)):
                params["from"] = start
        return f"{self.spec.url}?{urlencode(params)}"

    async def _list(self, http: HttpClient, url: str) -> Any:
        resp = await self.web(http).get(url, accept=XML_TYPES)
        root = parse_xml(resp.body, "OAI-PMH response")
        if local(root.tag) != "OAI-PMH":
            raise PermanentError(f"{self.spec.url}: not an OAI-PMH response (root element {local(root.tag)!r})")
        return root

    async def discover(
        self, *, cursor: str | None, since: str | None, page_size: int, http: HttpClient
    ) -> DiscoveryPage:
        """One ``ListRecords`` response (the repository decides its size; ``page_size`` does not apply)."""
        state: dict[str, Any] = json.loads(cursor) if cursor else {"token": None, "recoveries": 0}
        root = await self._list(http, self._list_url(since, state["token"]))
        errors = children(root, "error")
        codes = [e.get("code") for e in errors]
        if "badResumptionToken" in codes and state["token"]:
            if state["recoveries"] >= self.spec.max_recoveries:
                raise PermanentError(f"{self.spec.url}: badResumptionToken {state['recoveries'] + 1} times; giving up")
            state = {"token": None, "recoveries": state["recoveries"] + 1}
            root = await self._list(http, self._list_url(since, None))
            errors, codes = children(root, "error"), [e.get("code") for e in children(root, "error")]
        if "noRecordsMatch" in codes:
            return DiscoveryPage(items=[], next_cursor=None, high_water=None)
        if errors:
            detail = "; ".join(f"{e.get('code')}: {(e.text or '').strip()}" for e in errors)
            raise PermanentError(f"{self.spec.url}: OAI-PMH error {detail}")
        listing = next(iter(children(root, "ListRecords")), None)
        if listing is None:
            raise PermanentError(f"{self.spec.url}: OAI-PMH response without ListRecords")
        items, deleted, newest = self._records(listing)
        token_el = next(iter(children(listing, "resumptionToken")), None)
        token = (token_el.text or "").strip() if token_el is not None else ""
        if token and token == state["token"]:
            raise PermanentError(f"{self.spec.url}: the repository returned the same resumptionToken again")
        next_cursor = json.dumps({"token": token, "recoveries": state["recoveries"]}) if token else None
        return DiscoveryPage(items=items, next_cursor=next_cursor, high_water=iso(newest),
                             deleted=deleted if self.spec.detect_deletions else [])

    def _records(self, listing: Any) -> tuple[list[DocumentRef], list[DocumentRef], datetime | None]:
        items: list[DocumentRef] = []
        deleted: list[DocumentRef] = []
        newest: datetime | None = None
        for record in children(listing, "record"):
            header = next(iter(children(record, "header")), None)
            identifier = child_text(header, "identifier") if header is not None else None
            if header is None or not identifier:
                continue
            stamp = parse_time(child_text(header, "datestamp"))
            newest = later(newest, stamp)
            query = {"verb": "GetRecord", "identifier": identifier, "metadataPrefix": self.spec.metadata_prefix}
            landing = f"{self.spec.url}?{urlencode(query)}"
            if header.get("status") == "deleted":
                deleted.append(DocumentRef(doc_id=identifier, url=landing))
                continue
            metadata = next(iter(children(record, "metadata")), None)
            metadata = metadata[0] if metadata is not None and len(metadata) else None
            title = self._first(metadata, TITLE_FIELDS)
            links = self._links(metadata)
            link = self._full_text_link(links)
            ref = DocumentRef(doc_id=identifier, url=link or (links[0] if links else landing), title=title,
                              hint=iso(stamp), updated=stamp)
            if link is None:
                ref.content = metadata_markdown(title, metadata)
                ref.content_type = "text/markdown; charset=utf-8"
            items.append(ref)
        return items, deleted, newest

    @staticmethod
    def _first(metadata: Any, names: tuple[str, ...]) -> str | None:
        if metadata is None:
            return None
        for element in metadata.iter():
            if local(element.tag) in names and (element.text or "").strip():
                return " ".join(element.text.split())
        return None

    def _links(self, metadata: Any) -> list[str]:
        if metadata is None:
            return []
        wanted = set(self.spec.link_elements)
        return [element.text.strip() for element in metadata.iter()
                if local(element.tag) in wanted and (element.text or "").strip().startswith(("http://", "https://"))]

    def _full_text_link(self, links: list[str]) -> str | None:
        if not self.spec.full_text:
            return None
        pattern = re.compile(self.spec.link_pattern) if self.spec.link_pattern else None
        return next((u for u in links if pattern is None or pattern.search(u)), None)

    async def fetch(self, ref: DocumentRef, *, http: HttpClient, known: str | None = None) -> Fetched:
        inline = inline_document(ref)
        if inline is not None:
            return inline
        return await self.web(http).fetch_document(ref, known)

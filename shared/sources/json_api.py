"""``json_api``: items of a paged JSON API, mapped to documents by a field mapping in the manifest.

```yaml
- id: articles
  kind: json_api
  url: https://api.example.org/v1/articles
  params: {status: published}          # static query parameters (never credentials: use auth)
  items: data.items                    # dotted path to the list of items ("" = the response itself)
  fields: {id: id, title: title, url: links.html, text: body, updated: updated_at}
  paging: {style: cursor, param: cursor, field: meta.next_cursor}
  auth: {type: bearer, token_setting: ARTICLES_API_TOKEN}
```

Paging styles: ``page`` (page number), ``offset`` (offset + limit), ``cursor`` (a response field holds
the next cursor, sent back as a parameter), ``next_url`` (a response field holds the next page's URL),
``link`` (the RFC 8288 ``Link: <…>; rel="next"`` header). ``page``/``offset`` stop at an empty page or
one shorter than the page size; the others when no next cursor/URL is given. The pipeline cursor is
the next page's URL.

Documents: with ``fields.text`` the item's own text is the document (``text_format`` says whether it
is plain text, Markdown or HTML); without it the item's ``fields.url`` is fetched. ``fields.updated``
(ISO 8601 or epoch seconds) is the change hint and its maximum the high-water mark.

Deletions: by default every run lists everything and vanished items are tombstoned. With
``detect_deletions: false`` and ``since_param`` the high-water mark is sent as ``since_param`` so the
API lists only what changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.errors import PermanentError
from shared.fetching.http import HttpClient, HttpResponse
from shared.models import DocumentRef
from shared.sources.base import DiscoveryPage, Fetched
from shared.sources.parsing import dig, iso, later, parse_time
from shared.sources.web import HttpSourceSpec, SourceHttp, inline_document

log = logging.getLogger("harvest.sources.json_api")
JSON_TYPES = ("application/json", "*/*+json", "text/json", "text/plain")
TEXT_TYPES = {"text": "text/plain", "markdown": "text/markdown", "html": "text/html"}
PARAM = r"^[A-Za-z0-9_.\[\]-]+$"


class _Paging(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PagePaging(_Paging):
    style: Literal["page"]
    param: str = Field(default="page", pattern=PARAM)
    start: int = Field(default=1, ge=0)
    size_param: str | None = Field(default="per_page", pattern=PARAM)
    size: int = Field(default=100, ge=1, le=10_000)


class OffsetPaging(_Paging):
    style: Literal["offset"]
    param: str = Field(default="offset", pattern=PARAM)
    limit_param: str = Field(default="limit", pattern=PARAM)
    limit: int = Field(default=100, ge=1, le=10_000)


class CursorPaging(_Paging):
    style: Literal["cursor"]
    param: str = Field(default="cursor", pattern=PARAM)
    field: str = Field(description="Dotted path of the next cursor in the response.")


class NextUrlPaging(_Paging):
    style: Literal["next_url"]
    field: str = Field(description="Dotted path of the next page's URL in the response.")


class LinkPaging(_Paging):
    style: Literal["link"]


Paging = Annotated[PagePaging | OffsetPaging | CursorPaging | NextUrlPaging | LinkPaging,
                   Field(discriminator="style")]


class FieldMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str | None = None
    url: str | None = None
    text: str | None = None
    updated: str | None = None


class JsonApiSpec(HttpSourceSpec):
    kind: Literal["json_api"] = "json_api"
    url: str = Field(pattern=r"^https?://\S+$")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    items: str = ""
    fields: FieldMap
    text_format: Literal["text", "markdown", "html"] = "text"
    paging: Paging | None = None
    since_param: str | None = Field(default=None, pattern=PARAM)

    @model_validator(mode="after")
    def _coherent(self) -> JsonApiSpec:
        if self.fields.text is None and self.fields.url is None:
            raise ValueError("fields needs text (the item's own text) or url (a page to fetch)")
        if self.since_param and self.detect_deletions:
            raise ValueError("since_param lists only changed items: set detect_deletions: false with it")
        return self


def with_params(url: str, params: dict[str, Any]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def next_link(header: str | None, base: str) -> str | None:
    """The ``rel="next"`` target of an RFC 8288 ``Link`` header."""
    for part in (header or "").split(","):
        target, _, attrs = part.partition(";")
        target = target.strip()
        if target.startswith("<") and target.endswith(">"):
            rels = [a.split("=", 1)[1].strip().strip('"').lower().split() for a in attrs.split(";")
                    if a.strip().lower().startswith("rel=")]
            if any("next" in r for r in rels):
                return urljoin(base, target[1:-1])
    return None


class JsonApiSource:
    Spec = JsonApiSpec
    lists_everything = True

    def __init__(self, spec: JsonApiSpec, **_: Any) -> None:
        self.spec = spec

    def web(self, http: HttpClient) -> SourceHttp:
        return SourceHttp.of(http, self.spec, [self.spec.url])

    def first_url(self, since: str | None) -> str:
        params: dict[str, Any] = dict(self.spec.params)
        paging = self.spec.paging
        if isinstance(paging, PagePaging):
            params[paging.param] = paging.start
            if paging.size_param:
                params[paging.size_param] = paging.size
        elif isinstance(paging, OffsetPaging):
            params.update({paging.param: 0, paging.limit_param: paging.limit})
        if self.spec.since_param and since and not self.spec.detect_deletions:
            params[self.spec.since_param] = since
        return with_params(self.spec.url, params)

    def _next(self, url: str, resp: HttpResponse, body: Any, count: int) -> str | None:
        paging = self.spec.paging
        current = dict(parse_qsl(urlsplit(url).query))
        if isinstance(paging, PagePaging):
            if count == 0 or count < paging.size:
                return None
            return with_params(url, {paging.param: int(current.get(paging.param, paging.start)) + 1})
        if isinstance(paging, OffsetPaging):
            if count == 0 or count < paging.limit:
                return None
            return with_params(url, {paging.param: int(current.get(paging.param, 0)) + count})
        if isinstance(paging, CursorPaging):
            value = dig(body, paging.field)
            return with_params(url, {paging.param: value}) if value not in (None, "", False) else None
        if isinstance(paging, NextUrlPaging):
            value = dig(body, paging.field)
            return urljoin(url, str(value)) if isinstance(value, str) and value else None
        if isinstance(paging, LinkPaging):
            return next_link(resp.headers.get("link"), url)
        return None

    async def discover(
        self, *, cursor: str | None, since: str | None, page_size: int, http: HttpClient
    ) -> DiscoveryPage:
        """One API page (the API decides its size; ``page_size`` does not apply)."""
        url = cursor or self.first_url(since)
        resp = await self.web(http).get(url, accept=JSON_TYPES, headers={"Accept": "application/json"})
        try:
            body = json.loads(resp.body)
        except ValueError as exc:
            raise PermanentError(f"{url}: not JSON ({exc})") from None
        listing = dig(body, self.spec.items)
        if not isinstance(listing, list):
            raise PermanentError(f"{url}: no list of items at {self.spec.items or '(the response)'!r}")
        items, newest = self._refs(listing, url)
        following = self._next(url, resp, body, len(listing))
        if following == url:
            raise PermanentError(f"{url}: the API returned the same page as its next page")
        return DiscoveryPage(items=items, next_cursor=following, high_water=iso(newest))

    def _refs(self, listing: list[Any], page_url: str) -> tuple[list[DocumentRef], datetime | None]:
        fields = self.spec.fields
        refs: list[DocumentRef] = []
        newest: datetime | None = None
        for position, item in enumerate(listing):
            raw_id = dig(item, fields.id)
            if raw_id in (None, "") or isinstance(raw_id, dict | list):
                log.warning("%s: item %d on %s has no usable id at %r; skipped", self.spec.id, position,
                            page_url, fields.id)
                continue
            doc_id = str(raw_id)
            link = dig(item, fields.url)
            url = urljoin(page_url, link) if isinstance(link, str) and link else f"{self.spec.url}#{doc_id}"
            title = dig(item, fields.title)
            updated = parse_time(dig(item, fields.updated)) if fields.updated else None
            newest = later(newest, updated)
            text = dig(item, fields.text) if fields.text else None
            if fields.text is not None:
                content = "" if text is None else text if isinstance(text, str) else json.dumps(text)
                hint = iso(updated) or "sha256:" + hashlib.sha256(content.encode()).hexdigest()[:32]
                refs.append(DocumentRef(doc_id=doc_id, url=url, title=title if isinstance(title, str) else None,
                                        hint=hint, updated=updated, content=content,
                                        content_type=f"{TEXT_TYPES[self.spec.text_format]}; charset=utf-8"))
            elif isinstance(link, str) and link:
                refs.append(DocumentRef(doc_id=doc_id, url=url, title=title if isinstance(title, str) else None,
                                        hint=iso(updated), updated=updated))
        return refs, newest

    async def fetch(self, ref: DocumentRef, *, http: HttpClient, known: str | None = None) -> Fetched:
        inline = inline_document(ref)
        if inline is not None:
            return inline
        return await self.web(http).fetch_document(ref, known)

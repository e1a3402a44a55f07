"""How an HTTP source talks to the web: its manifest fields and its view of the shared client.

``HttpSourceSpec`` adds the fields every HTTP kind shares (auth, rate limit, concurrency, robots.txt,
User-Agent, timeouts, accepted content types, conditional GET). ``SourceHttp`` applies them to the
activity's one pooled ``HttpClient``: per redirect hop it checks robots.txt, waits on the source's rate
limiter and adds credentials only when the hop goes to one of the source's own origins (so a token
never follows a link or a redirect to another host); error messages are redacted of every secret.

Conditional GET per document: a document's change hint records the validators of its last fetched
body (``http:{"etag":…,"last_modified":…}``) when discovery had no hint of its own; the next fetch
sends ``If-None-Match``/``If-Modified-Since`` and a 304 means "unchanged" without a body.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack

from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import HarvestError, PermanentError
from shared.fetching.auth import Authenticator, AuthSpec, OAuth2ClientCredentials
from shared.fetching.http import HttpClient, HttpResponse, Timeouts
from shared.fetching.robots import Robots, origin
from shared.models import DocumentRef
from shared.redact import redact_text
from shared.sources.base import Fetched, SourceSpec

DOCUMENT_TYPES = (
    "text/html", "application/xhtml+xml", "application/pdf", "application/x-pdf", "text/plain",
    "text/markdown", "text/x-markdown", "application/octet-stream", "binary/octet-stream",
)
XML_TYPES = ("*/xml", "*/*+xml", "text/plain", "application/octet-stream", "application/gzip",
             "application/x-gzip")
VALIDATORS = "http:"


class TimeoutSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connect: float | None = Field(default=None, gt=0, le=600)
    read: float | None = Field(default=None, gt=0, le=600)
    total: float | None = Field(default=None, gt=0, le=3600)


class HttpSourceSpec(SourceSpec):
    """Fields shared by every kind that fetches over HTTP."""

    auth: AuthSpec | None = None
    rate_limit: float | None = Field(default=None, gt=0, le=1000, description="Requests per second.")
    concurrency: int | None = Field(default=None, ge=1, le=64, description="Requests in flight at once.")
    respect_robots_txt: bool = True
    user_agent: str | None = Field(default=None, min_length=1, max_length=300)
    timeout: TimeoutSpec | None = None
    content_types: list[str] | None = Field(
        default=None, min_length=1, description="Media types accepted for documents (text/*, */*+xml)."
    )
    conditional_get: bool = True


def validators_hint(resp: HttpResponse) -> str | None:
    found = {k: v for k, v in (("etag", resp.headers.get("etag")),
                               ("last_modified", resp.headers.get("last-modified"))) if v}
    return VALIDATORS + json.dumps(found, sort_keys=True) if found else None


def conditional_headers(hint: str | None) -> dict[str, str]:
    if not hint or not hint.startswith(VALIDATORS):
        return {}
    try:
        found = json.loads(hint[len(VALIDATORS):])
    except ValueError:
        return {}
    headers = {}
    if found.get("etag"):
        headers["If-None-Match"] = found["etag"]
    if found.get("last_modified"):
        headers["If-Modified-Since"] = found["last_modified"]
    return headers


class SourceHttp:
    """One source's view of the activity's ``HttpClient`` (get one with ``SourceHttp.of``)."""

    def __init__(self, http: HttpClient, spec: HttpSourceSpec, origins: list[str]) -> None:
        self.http = http
        self.spec = spec
        self.origins = {origin(u) for u in origins}
        self.user_agent = spec.user_agent or http.user_agent
        self.robots = Robots(http, self.user_agent) if spec.respect_robots_txt else None
        self.auth = Authenticator(spec.auth, source_id=spec.id) if spec.auth is not None else None
        self.limiter = AsyncLimiter(1, 1.0 / spec.rate_limit) if spec.rate_limit else None
        self.slots = asyncio.Semaphore(spec.concurrency) if spec.concurrency else None
        t = spec.timeout
        self.timeouts = Timeouts(connect=t.connect, read=t.read, total=t.total) if t else None
        self.document_types = tuple(spec.content_types or DOCUMENT_TYPES)

    @classmethod
    def of(cls, http: HttpClient, spec: HttpSourceSpec, origins: list[str]) -> SourceHttp:
        """The view shared by every request of this source in this activity (one limiter, one token)."""
        return http.scoped(f"source:{spec.id}", lambda: cls(http, spec, origins))

    @property
    def secrets(self) -> set[str]:
        return self.auth.secrets if self.auth is not None else set()

    async def _hop(self, url: str, robots: bool) -> tuple[str, dict[str, str]]:
        if robots and self.robots is not None:
            await self.robots.check(url)
        if self.limiter is not None:
            await self.limiter.acquire()
        if self.auth is not None and origin(url) in self.origins:
            return await self.auth.sign(url, self.http)
        return url, {}

    async def get(self, url: str, *, accept: tuple[str, ...] | None = None,
                  headers: dict[str, str] | None = None, robots: bool = False) -> HttpResponse:
        """GET with this source's policy; a 401 with OAuth2 renews the token once.

        ``robots``: check robots.txt for every hop. Documents found through discovery are checked; the
        endpoints the manifest names (feed, OAI-PMH base URL, API, sitemaps) are not — the operator
        subscribed to them, as a feed reader does."""
        all_headers = {"User-Agent": self.user_agent, **(headers or {})}

        async def hop(target: str) -> tuple[str, dict[str, str]]:
            return await self._hop(target, robots)

        try:
            async with AsyncExitStack() as stack:
                if self.slots is not None:
                    await stack.enter_async_context(self.slots)
                try:
                    return await self.http.get(url, headers=all_headers, timeouts=self.timeouts,
                                               accept=accept, on_hop=hop)
                except PermanentError as exc:
                    renew = self.auth is not None and isinstance(self.auth.spec, OAuth2ClientCredentials)
                    if not renew or self.auth is None or not str(exc).startswith("HTTP 401"):
                        raise
                    self.auth.invalidate()
                    return await self.http.get(url, headers=all_headers, timeouts=self.timeouts,
                                               accept=accept, on_hop=hop)
        except HarvestError as exc:
            exc.args = tuple(redact_text(str(a), self.secrets) if isinstance(a, str) else a for a in exc.args)
            raise

    async def fetch_document(self, ref: DocumentRef, known: str | None = None) -> Fetched:
        """The document at ``ref.url``; ``known`` (the hint recorded last time) enables a conditional GET."""
        headers = conditional_headers(known) if self.spec.conditional_get else {}
        resp = await self.get(ref.url, accept=self.document_types, headers=headers, robots=True)
        if resp.not_modified:
            return Fetched(data=b"", content_type=None, url=resp.url, title=ref.title, not_modified=True,
                           hint=known)
        return Fetched(data=resp.body, content_type=resp.content_type, url=resp.url, title=ref.title,
                       hint=validators_hint(resp))


def inline_document(ref: DocumentRef) -> Fetched | None:
    """The body discovery already had (feed entry, API item, OAI metadata), if any."""
    if ref.content is None:
        return None
    return Fetched(data=ref.content.encode("utf-8"), content_type=ref.content_type or "text/plain; charset=utf-8",
                   url=ref.url, title=ref.title)


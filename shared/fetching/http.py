"""The one outbound HTTP client: pooled aiohttp session, SSRF guard, body cap, retries.

SSRF guard. Names are resolved by ``GuardedResolver``, the connector's own resolver, which drops every
address that is not public (or inside ``allowed_networks``): the address checked is the address
connected to, so DNS rebinding has no gap. aiohttp skips the resolver for IP-literal hosts, so those
are checked before each request; redirects are followed here (not by aiohttp) so every hop gets the
same scheme and address checks. Environment proxies are ignored (``trust_env=False``): with a proxy the
connection would go to the proxy, not to the checked address.

Retries (tenacity): timeouts, connection errors, 429 and 5xx are retried with exponential backoff and
jitter, honouring ``Retry-After`` (seconds or HTTP date; see ``shared.fetching.backoff``). A ``Retry-After`` above
``MAX_RETRY_AFTER`` is not slept on in-process: it becomes a ``TransientError`` carrying ``retry_after``
at once, so the Durable retry policy waits instead of a blocked activity.

Per request a caller may set timeouts (connect, read, total), the content types it accepts (checked
before the body is read), conditional-GET headers (a 304 is then returned, not an error) and an
``on_hop`` hook called before every hop with the URL about to be requested: it may wait (rate limits),
refuse (robots.txt) or add headers for that hop only (credentials for the source's own origin), so
nothing a caller adds follows a redirect to another host. Per-source policy lives in
``shared.sources.web``; this client knows nothing of sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from shared.errors import ConfigError, PermanentError, TransientError
from shared.fetching.backoff import MAX_RETRY_AFTER, BackoffWait, parse_retry_after
from shared.fetching.backoff import RetryLater as _Retry
from shared.fetching.http_errors import connection_failure
from shared.fetching.mediatypes import check_type as _check_type

__all__ = ["MAX_REDIRECTS", "GuardedResolver", "HttpClient", "HttpResponse", "Timeouts", "allowed",
           "parse_retry_after"]

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CONDITIONAL_HEADERS = ("if-none-match", "if-modified-since")
T = TypeVar("T")
Hop = Callable[[str], Awaitable[tuple[str, dict[str, str]]]]
"""``on_hop(url) -> (url to request, extra headers for this hop)``; may raise to refuse the hop."""
_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class HttpResponse:
    status: int
    url: str  # the final URL, after redirects
    headers: dict[str, str]  # lower-cased header names
    body: bytes
    content_type: str | None  # the full Content-Type header (charset included), if any

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class Timeouts:
    """Per-request timeouts in seconds; ``None`` keeps the client's default."""

    connect: float | None = None
    read: float | None = None
    total: float | None = None


@lru_cache(maxsize=64)
def _parse_networks(networks: tuple[str, ...]) -> tuple[_Net, ...]:
    parsed = []
    for net in networks:
        try:
            parsed.append(ipaddress.ip_network(net.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(
                "invalid settings", [{"field": "HARVEST_ALLOWED_PRIVATE_NETWORKS", "message": str(exc)}]
            ) from None
    return tuple(parsed)


def _is_public(ip: _IP) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _is_public(ip.ipv4_mapped)
    blocked = (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    return not blocked and ip.is_global


def allowed(ip: str, networks: list[str]) -> bool:
    """True when ``ip`` is a public address or lies inside one of ``networks`` (CIDRs)."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if _is_public(address):
        return True
    return any(address.version == net.version and address in net for net in _parse_networks(tuple(networks)))


def _refused(ip: str) -> PermanentError:
    return PermanentError(
        f"refused: {ip} is a private/loopback address; allow it with HARVEST_ALLOWED_PRIVATE_NETWORKS"
    )


class GuardedResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver, then keeps only addresses ``allowed`` permits."""

    def __init__(self, networks: list[str], inner: AbstractResolver | None = None) -> None:
        self._networks = list(networks)
        self._inner = inner  # the default resolver needs a running loop: built on first use

    def filter(self, results: list[ResolveResult]) -> list[ResolveResult]:
        kept = [r for r in results if allowed(r["host"], self._networks)]
        if not kept:
            raise _refused(results[0]["host"] if results else "(no address)")
        return kept

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = aiohttp.DefaultResolver()
        return self.filter(await self._inner.resolve(host, port, family))

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


class HttpClient:
    """Async context manager around one pooled ``aiohttp.ClientSession``."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float,
        max_body_bytes: int,
        allowed_networks: list[str],
        concurrency: int,
        retries: int = 3,
        backoff: float = 0.5,
        resolver: AbstractResolver | None = None,
    ) -> None:
        _parse_networks(tuple(allowed_networks))  # fail early on a bad CIDR
        self.user_agent = user_agent
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.allowed_networks = list(allowed_networks)
        self.retries = retries
        self.backoff = backoff
        self._concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self._session: aiohttp.ClientSession | None = None
        self._resolver = resolver  # the resolver GuardedResolver filters (a stub in tests)
        self._scoped: dict[str, Any] = {}

    async def __aenter__(self) -> HttpClient:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self.allowed_networks, self._resolver), limit=max(self._concurrency, 1) * 2
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self.timeout, connect=min(10.0, self.timeout), sock_read=self.timeout
            ),
            headers={"User-Agent": self.user_agent},
            trust_env=False,
            auto_decompress=True,
        )
        self._semaphore = asyncio.Semaphore(self._concurrency)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        scoped, self._scoped = list(self._scoped.values()), {}
        for value in scoped:  # per-activity resources (blob clients, ...) that need closing
            closer = getattr(value, "aclose", None) or getattr(value, "close", None)
            if closer is not None and asyncio.iscoroutinefunction(closer):
                with contextlib.suppress(Exception):
                    await closer()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def scoped(self, key: str, factory: Callable[[], T]) -> T:
        """One ``factory()`` per client and ``key``: state shared by the requests of one activity (a
        source's rate limiter, robots.txt rules, an OAuth2 token). Closed with the client if it has an
        async ``aclose``/``close``."""
        if key not in self._scoped:
            self._scoped[key] = factory()
        value: T = self._scoped[key]  # stored by the factory above for this key
        return value

    async def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeouts: Timeouts | None = None,
        accept: Sequence[str] | None = None,
        on_hop: Hop | None = None,
        max_bytes: int | None = None,
        method: str = "GET",
        data: dict[str, str] | None = None,
    ) -> HttpResponse:
        """GET ``url``; ``PermanentError`` for 4xx/refusals/oversize/unaccepted content types,
        ``TransientError`` after retries. With conditional headers a 304 is returned (empty body).
        ``method="POST"`` with form ``data`` is for token endpoints; a redirected POST is refused."""
        if self._session is None or self._semaphore is None:
            raise RuntimeError("HttpClient must be used as 'async with HttpClient(...) as http'")
        last: _Retry | None = None
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_Retry),
                stop=stop_after_attempt(self.retries + 1),
                wait=BackoffWait(self.backoff),
                reraise=True,
            ):
                with attempt:
                    return await self._follow(
                        method, url, headers or {}, data=data, timeout=self._timeout(timeouts),
                        accept=accept, on_hop=on_hop, max_bytes=max_bytes or self.max_body_bytes,
                    )
        except _Retry as exc:
            last = exc
        assert last is not None
        attempts = self.retries + 1
        raise TransientError(f"{last} (after {attempts} attempt{'s' if attempts != 1 else ''})",
                             retry_after=last.retry_after)

    def _check_target(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise PermanentError(f"unsupported URL scheme {parts.scheme or '(none)'!r}: {url}")
        host = parts.hostname
        if not host:
            raise PermanentError(f"URL has no host: {url}")
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host)
            if not allowed(host, self.allowed_networks):
                raise _refused(host)

    def _timeout(self, timeouts: Timeouts | None) -> aiohttp.ClientTimeout | None:
        if timeouts is None:
            return None
        total = timeouts.total or self.timeout
        return aiohttp.ClientTimeout(total=total, connect=timeouts.connect or min(10.0, total),
                                     sock_read=timeouts.read or total)

    async def _follow(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        data: dict[str, str] | None,
        timeout: aiohttp.ClientTimeout | None,
        accept: Sequence[str] | None,
        on_hop: Hop | None,
        max_bytes: int,
    ) -> HttpResponse:
        assert self._session is not None and self._semaphore is not None
        conditional = any(k.lower() in CONDITIONAL_HEADERS for k in headers)
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        for _ in range(MAX_REDIRECTS + 1):
            self._check_target(url)
            # The hop's policy (robots.txt, the source's rate limit, a crawl delay) waits *before* a request
            # slot is taken: robots.txt is itself fetched through this client, so requests holding every slot
            # while they wait for it deadlocked the activity until its timeout (seen in the bench: 4 parallel
            # batches, 10 minutes).
            send_url, hop_headers = (url, {}) if on_hop is None else await on_hop(url)
            if send_url != url:
                self._check_target(send_url)
            try:
                async with self._semaphore, self._session.request(
                        method, send_url, headers={**headers, **hop_headers}, data=data, allow_redirects=False,
                        **extra) as resp:
                    location = resp.headers.get("Location")
                    if resp.status in REDIRECT_STATUSES and location:
                        if method != "GET":
                            raise PermanentError(f"{method} {url} was redirected (HTTP {resp.status})")
                        url = urljoin(url, location)
                        continue
                    if resp.status == 304 and conditional:
                        return HttpResponse(status=304, url=url, headers=_lower(resp.headers), body=b"",
                                            content_type=resp.headers.get("Content-Type"))
                    self._check_status(resp, url)
                    _check_type(resp, url, accept)
                    body = await self._read(resp, max_bytes)
                    return HttpResponse(
                        status=resp.status,
                        url=url,
                        headers=_lower(resp.headers),
                        body=body,
                        content_type=resp.headers.get("Content-Type"),
                    )
            except aiohttp.InvalidURL as exc:
                raise PermanentError(f"invalid URL: {exc}") from None
            except (TimeoutError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
                raise _Retry(connection_failure(method, url, exc)) from exc
        raise PermanentError(f"too many redirects (> {MAX_REDIRECTS}) from {url}")

    def _check_status(self, resp: aiohttp.ClientResponse, url: str) -> None:
        status = resp.status
        if 200 <= status < 300:
            return
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                raise TransientError(f"HTTP {status} for {url}", retry_after=retry_after)
            raise _Retry(f"HTTP {status} for {url}", retry_after)
        raise PermanentError(f"HTTP {status} for {url}")

    async def _read(self, resp: aiohttp.ClientResponse, limit: int) -> bytes:
        if resp.content_length is not None and resp.content_length > limit:
            raise PermanentError(f"body larger than {limit} bytes")
        buf = bytearray()
        async for piece in resp.content.iter_chunked(65536):
            buf += piece
            if len(buf) > limit:
                raise PermanentError(f"body larger than {limit} bytes")
        return bytes(buf)


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


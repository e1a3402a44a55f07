"""robots.txt (RFC 9309), parsed by protego, fetched once per origin per activity through the guarded client.

- 2xx: the rules apply (first 512 KiB, as RFC 9309 allows).
- 4xx (including 401/403 and 404): "unavailable": everything may be fetched.
- 5xx, timeouts, refused connections (after the client's retries): "unreachable": nothing is fetched
  now; the document fails *transiently*, so a later run tries again (RFC 9309 says assume full disallow).
- ``Crawl-delay`` is honoured up to ``MAX_CRAWL_DELAY`` seconds between requests to that origin.

robots.txt itself is fetched with the client's redirect limit (5) and SSRF guard; a redirect to
another host is followed, as RFC 9309 allows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiolimiter import AsyncLimiter
from protego import Protego

from shared.errors import PermanentError, SkippedError, TransientError
from shared.fetching.http import HttpClient

MAX_ROBOTS_BYTES = 512 * 1024
MAX_CRAWL_DELAY = 10.0


@dataclass
class RobotsRules:
    parser: Protego | None  # None: no robots.txt (everything allowed)
    delay: AsyncLimiter | None = None

    def allows(self, url: str, agent: str) -> bool:
        return self.parser is None or bool(self.parser.can_fetch(url, agent))


def origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against (``Harvest`` for ``Harvest/0.1 (...)``)."""
    return (user_agent.split("/", 1)[0].split() or ["*"])[0]


class Robots:
    """robots.txt rules for one user agent, cached per origin for the lifetime of one ``HttpClient``."""

    def __init__(self, http: HttpClient, user_agent: str) -> None:
        self.http = http
        self.user_agent = user_agent
        self.agent = agent_token(user_agent)
        self._rules: dict[str, asyncio.Task[RobotsRules]] = {}

    async def rules(self, url: str) -> RobotsRules:
        key = origin(url)
        task = self._rules.get(key)
        if task is None:
            task = self._rules[key] = asyncio.ensure_future(self._load(url))
        return await asyncio.shield(task)

    async def check(self, url: str) -> None:
        """Wait out any crawl delay; ``SkippedError`` (reason ``robots``) when ``url`` is disallowed."""
        rules = await self.rules(url)
        if not rules.allows(url, self.agent):
            raise SkippedError(f"robots.txt disallows {url} for {self.agent}", reason="robots")
        if rules.delay is not None:
            await rules.delay.acquire()

    async def _load(self, url: str) -> RobotsRules:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/robots.txt"
        try:
            resp = await self.http.get(robots_url, headers={"User-Agent": self.user_agent},
                                       max_bytes=MAX_ROBOTS_BYTES)
        except TransientError as exc:
            raise TransientError(f"robots.txt unreachable, not fetching from {parts.netloc} now: {exc}",
                                 retry_after=exc.retry_after) from None
        except PermanentError as exc:
            if str(exc).startswith("HTTP 4"):
                return RobotsRules(parser=None)
            if "body larger" in str(exc):
                raise PermanentError(f"robots.txt at {robots_url} is larger than {MAX_ROBOTS_BYTES} bytes") from None
            raise
        parser = Protego.parse(resp.body.decode("utf-8", errors="replace"))
        delay = parser.crawl_delay(self.agent)
        limiter = AsyncLimiter(1, min(float(delay), MAX_CRAWL_DELAY)) if delay else None
        return RobotsRules(parser=parser, delay=limiter)

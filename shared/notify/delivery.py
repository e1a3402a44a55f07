"""Retries with exponential backoff for one notification channel; ``Retry-After`` is honoured."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger("harvest.notify")
BACKOFF_S = 1.0
MAX_WAIT_S = 30.0


class DeliveryError(Exception):
    """A failed attempt. ``retry`` False means retrying cannot help (e.g. 400, 401, 404)."""

    def __init__(self, message: str, *, retry: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


def http_failure(status: int, retry_after: str | None) -> DeliveryError:
    wait = None
    if retry_after and retry_after.strip().isdigit():
        wait = float(retry_after.strip())
    retry = status >= 500 or status in (408, 425, 429)
    return DeliveryError(f"HTTP {status}", retry=retry, retry_after=wait)


async def deliver(channel: str, attempt: Callable[[], Awaitable[None]], attempts: int) -> tuple[bool, int, str | None]:
    """Run ``attempt`` until it succeeds; return (ok, attempts made, last error)."""
    last: str | None = None
    for n in range(1, attempts + 1):
        try:
            await attempt()
            return True, n, None
        except DeliveryError as exc:
            last = str(exc)
            if not exc.retry:
                return False, n, last
            wait = exc.retry_after
        except Exception as exc:  # connection refused, timeouts, TLS and SMTP errors
            last = f"{type(exc).__name__}: {exc}"[:300]
            wait = None
        if n < attempts:
            delay = min(wait if wait is not None else BACKOFF_S * 2 ** (n - 1) * (0.5 + random.random()), MAX_WAIT_S)
            log.info("notification %s attempt %d failed (%s); retrying in %.1f s", channel, n, last, delay)
            await asyncio.sleep(delay)
    return False, attempts, last

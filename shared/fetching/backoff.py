"""Retry timing for outbound HTTP: ``Retry-After`` parsing and exponential backoff with jitter.

``RetryLater`` is raised inside an attempt to ask for another one; the wait before it is the server's
``Retry-After`` (capped at ``MAX_RETRY_AFTER``) when it sent one, else full-jitter exponential backoff.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from typing import Any

from tenacity import wait_random_exponential

MAX_RETRY_AFTER = 60.0


class RetryLater(Exception):
    """One attempt failed in a way that may succeed if tried again (timeout, 429, 5xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class BackoffWait:
    """A tenacity ``wait``: the server's ``Retry-After`` if given, else random exponential backoff."""

    backoff: float
    _random: wait_random_exponential = field(init=False)

    def __post_init__(self) -> None:
        self._random = wait_random_exponential(multiplier=self.backoff, max=30)

    def __call__(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryLater) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER)
        return float(self._random(state))

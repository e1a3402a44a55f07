"""Turn permanent failures into results, so the Durable retry policy only retries what may succeed.

A ``PermanentError`` or ``ConfigError`` (a feed URL that is refused, a manifest that became invalid)
would otherwise be retried with backoff and fail anyway; instead the activity returns
``{"fatal": "<reason>"}`` and the orchestrator fails the source at once. Transient errors and anything
unexpected still raise, so they are retried.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from shared.errors import ConfigError, PermanentError

log = logging.getLogger("harvest.activities")


def permanent_errors_as_results(
    fn: Callable[[dict[str, Any]], Awaitable[Any]],
) -> Callable[[dict[str, Any]], Awaitable[Any]]:
    @functools.wraps(fn)
    async def wrapper(payload: dict[str, Any]) -> Any:
        try:
            return await fn(payload)
        except (PermanentError, ConfigError) as exc:
            log.warning("%s: permanent failure: %s", fn.__name__, exc)
            return {"fatal": str(exc)[:1000]}

    return wrapper

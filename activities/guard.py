"""Turn permanent failures into results, so the Durable retry policy only retries what may succeed.

A ``PermanentError`` or ``ConfigError`` (a feed URL that is refused, a manifest that became invalid)
would otherwise be retried with backoff and fail anyway; instead the activity returns
``{"fatal": "<reason>"}`` and the orchestrator fails the source at once. Transient errors and anything
unexpected still raise, so they are retried.
"""

from __future__ import annotations

import functools
import logging
import typing
from collections.abc import Awaitable, Callable
from typing import Any

from shared.errors import ConfigError, PermanentError
from shared.logs import configure_logging, log_context
from shared.runs.control import refuse_if_cancelled

log = logging.getLogger("harvest.activities")

# The annotation of every activity's trigger parameter. Azure's Python worker (azure-functions-runtime,
# ``functions.Registry.validate_function_params``) accepts only a class or a ``typing`` generic there and
# rejects ``dict[str, Any]`` ("binding payload has invalid non-type annotation"), failing the whole app.
Payload = typing.Dict[str, Any]  # noqa: UP006 - see above


def permanent_errors_as_results(
    fn: Callable[[Payload], Awaitable[Any]],
) -> Callable[[Payload], Awaitable[Any]]:
    @functools.wraps(fn)
    async def wrapper(payload: Payload) -> Any:
        configure_logging()
        ids = payload if isinstance(payload, dict) else {}
        with log_context(run_id=ids.get("run_id"), source_id=ids.get("source_id")):
            try:
                return await fn(payload)
            except (PermanentError, ConfigError) as exc:
                log.warning("%s: permanent failure: %s", fn.__name__, exc)
                return {"fatal": str(exc)[:1000]}

    return wrapper


def unless_cancelled(fn: Callable[[Payload], Awaitable[Any]]) -> Callable[[Payload], Awaitable[Any]]:
    """Refuse (``PermanentError``: the source fails at once) to work for a run an operator cancelled, so
    a source orchestration that outlived the terminate claims, fetches and commits nothing more. Place
    it under ``permanent_errors_as_results``."""

    @functools.wraps(fn)
    async def wrapper(payload: Payload) -> Any:
        run_id = payload.get("run_id") if isinstance(payload, dict) else None
        if isinstance(run_id, str) and run_id:
            from shared.settings import get_settings
            from shared.storage.blobs import BlobStore

            async with BlobStore.from_settings(get_settings()) as store:
                await refuse_if_cancelled(store, run_id)
        return await fn(payload)

    return wrapper

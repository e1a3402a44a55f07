"""The one boundary every activity goes through: its result is wrapped in an ``ok`` envelope, and an error
that escapes it is classified by ``shared.failure_policy`` (the rules are written out in
``shared.errors``):

- permanent (a refused feed URL, a manifest that became invalid, another run holding the source, an
  input that does not validate, storage refusing the credentials) → a ``failed`` envelope with the
  reason: the orchestrator fails the source (or the run) at once instead of retrying what cannot work;
- transient with a server-given wait (``Retry-After``) → a ``retry`` envelope: the orchestrator waits on
  a durable timer and calls again (``orchestrators.calls``), beyond the SDK's fixed retry schedule;
- transient without a wait, and anything unexpected → raised, so the Durable retry policy retries it.
"""

from __future__ import annotations

import functools
import logging
import typing
from collections.abc import Awaitable, Callable
from typing import Any

from shared import envelope
from shared.failure_policy import classify
from shared.logs import configure_logging, log_context
from shared.redact import redact_text
from shared.runs.control import refuse_if_cancelled

log = logging.getLogger("harvest.activities")

# The annotation of every activity's trigger parameter. Azure's Python worker (azure-functions-runtime,
# ``functions.Registry.validate_function_params``) accepts only a class or a ``typing`` generic there and
# rejects ``dict[str, Any]`` ("binding payload has invalid non-type annotation"), failing the whole app.
# Activities validate it into a model (``shared.models.Message``) first thing.
Payload = typing.Dict[str, Any]  # noqa: UP006 - see above

Activity = Callable[..., Awaitable[Any]]


def guarded(fn: Activity) -> Activity:
    """Wrap an activity ``fn(payload, **durable_clients)`` in the failure policy and the envelope."""

    @functools.wraps(fn)
    async def wrapper(payload: Payload, **clients: Any) -> dict[str, Any]:
        configure_logging()
        ids = payload if isinstance(payload, dict) else {}
        with log_context(run_id=ids.get("run_id"), source_id=ids.get("source_id")):
            try:
                return envelope.ok(await fn(payload, **clients))
            except Exception as exc:
                failure = classify(exc)
                reason = redact_text(failure.reason)  # it lands in Durable history and the run record
                if failure.permanent:
                    log.warning("%s: permanent failure: %s", fn.__name__, reason)
                    return envelope.failed(reason)
                if failure.retry_after is not None:
                    log.info("%s: retry in %.1f s: %s", fn.__name__, failure.retry_after, reason)
                    return envelope.retry(failure.retry_after, reason)
                raise

    return wrapper


def unless_cancelled(fn: Callable[[Payload], Awaitable[Any]]) -> Callable[[Payload], Awaitable[Any]]:
    """Refuse (``PermanentError``: the source fails at once) to work for a run an operator cancelled, so
    a source orchestration that outlived the terminate claims, fetches and commits nothing more. Place
    it under ``guarded``."""

    @functools.wraps(fn)
    async def wrapper(payload: Payload, **clients: Any) -> Any:
        run_id = payload.get("run_id") if isinstance(payload, dict) else None
        if isinstance(run_id, str) and run_id:
            from shared.settings import get_settings
            from shared.storage.blobs import BlobStore

            async with BlobStore.from_settings(get_settings()) as store:
                await refuse_if_cancelled(store, run_id)
        return await fn(payload, **clients)

    return wrapper

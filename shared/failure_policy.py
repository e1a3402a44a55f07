"""One failure policy for the activity/orchestrator boundary: is an error permanent or transient, and did
the other side say how long to wait? The rules are described in ``shared.errors``; ``activities.guard``
applies them to every activity."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from pydantic import ValidationError

from shared.config.messages import describe_validation
from shared.errors import ConfigError, PermanentError, TransientError
from shared.fetching.backoff import parse_retry_after

TRANSIENT_STATUS = frozenset({408, 409, 412, 429})  # plus every 5xx
CREDENTIAL_STATUS = frozenset({401, 403})


@dataclass(frozen=True)
class Failure:
    permanent: bool
    reason: str
    retry_after: float | None = None  # transient only: seconds the server asked us to wait


def _retry_after(exc: HttpResponseError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    milliseconds = headers.get("x-ms-retry-after-ms") or headers.get("retry-after-ms")
    if milliseconds and str(milliseconds).strip().isdigit():
        return int(milliseconds) / 1000
    return parse_retry_after(headers.get("Retry-After"))


def _storage(exc: HttpResponseError) -> Failure:
    status = exc.status_code or 0
    text = f"{type(exc).__name__}: HTTP {status or '?'}: {exc.reason or exc.message}"
    if isinstance(exc, ClientAuthenticationError) or status in CREDENTIAL_STATUS:
        return Failure(True, f"configuration error: storage refused the credentials ({text}); "
                             "check AzureWebJobsStorage / HARVEST_STORAGE_* and the identity's role")
    if status >= 500 or status in TRANSIENT_STATUS or status == 0:
        return Failure(False, text, _retry_after(exc))
    return Failure(True, text)


def classify(exc: BaseException) -> Failure:
    """Permanent or transient, with the reason to record and the server's requested wait if any."""
    if isinstance(exc, TransientError):  # includes WriteContentionError
        return Failure(False, str(exc), exc.retry_after)
    if isinstance(exc, PermanentError | ConfigError):  # includes ClaimHeldError, StagedSchemaError, CorruptBlobError
        return Failure(True, str(exc))
    if isinstance(exc, ValidationError):
        return Failure(True, describe_validation(exc))
    if isinstance(exc, HttpResponseError):
        return _storage(exc)
    if isinstance(exc, ServiceRequestError | ServiceResponseError | aiohttp.ClientError | ConnectionError
                  | TimeoutError):
        return Failure(False, f"{type(exc).__name__}: {exc}")
    return Failure(False, f"unexpected {type(exc).__name__}: {exc}")

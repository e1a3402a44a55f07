"""One failure policy: which errors are permanent, which transient, and the server's wait."""

from __future__ import annotations

import aiohttp
import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import HttpResponse
from pydantic import ValidationError

from shared.envelope import Envelope, failed, ok, retry
from shared.errors import (
    ClaimHeldError,
    ConfigError,
    ConflictError,
    CorruptBlobError,
    PermanentError,
    StagedSchemaError,
    TransientError,
    WriteContentionError,
)
from shared.failure_policy import classify
from shared.models import CheckpointInput


class _Response(HttpResponse):  # the smallest azure-core response: a status and headers
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(None, None)  # type: ignore[arg-type]  # no request/transport: only status and headers
        self.status_code = status
        self.headers = headers or {}
        self.reason = "reason"

    def body(self) -> bytes:
        return b""


def storage_error(status: int, cls: type[HttpResponseError] = HttpResponseError, **headers: str) -> HttpResponseError:
    return cls(message=f"HTTP {status}", response=_Response(status, headers))


def validation_error() -> ValidationError:
    with pytest.raises(ValidationError) as info:
        CheckpointInput.model_validate({"run_id": "r", "source_idd": "s"})
    return info.value


@pytest.mark.parametrize(("exc", "permanent", "retry_after"), [
    (PermanentError("404 for the feed"), True, None),
    (ConfigError("bad manifest"), True, None),
    (ClaimHeldError("source 'a' is being processed by run r0"), True, None),
    (StagedSchemaError("newer schema"), True, None),
    (CorruptBlobError("state/a/checkpoint.json", "not JSON", fix="run `harvest verify --repair`"), True, None),
    (WriteContentionError("state/x.json: still contended"), False, None),
    (TransientError("HTTP 429", retry_after=30), False, 30),
    (TransientError("timeout"), False, None),
    (storage_error(403), True, None),
    (storage_error(401, ClientAuthenticationError), True, None),
    (storage_error(404, ResourceNotFoundError), True, None),
    (storage_error(400), True, None),
    (storage_error(412, ResourceModifiedError), False, None),
    (storage_error(500), False, None),
    (storage_error(503, **{"Retry-After": "7"}), False, 7),
    (storage_error(503, **{"x-ms-retry-after-ms": "1500"}), False, 1.5),
    (ServiceRequestError("connection refused"), False, None),
    (ServiceResponseError("connection reset"), False, None),
    (aiohttp.ServerDisconnectedError(), False, None),
    (TimeoutError(), False, None),
    (ConnectionResetError(), False, None),
    (KeyError("surprise"), False, None),  # unexpected: raised, retried by the Durable policy
])
def test_classify(exc: BaseException, permanent: bool, retry_after: float | None) -> None:
    failure = classify(exc)
    assert (failure.permanent, failure.retry_after) == (permanent, retry_after)
    assert failure.reason


def test_conflicts_split_by_meaning() -> None:
    assert isinstance(ClaimHeldError("x"), ConflictError) and isinstance(WriteContentionError("x"), ConflictError)
    assert classify(ClaimHeldError("x")).permanent and not classify(WriteContentionError("x")).permanent


def test_refused_credentials_are_a_configuration_error() -> None:
    reason = classify(storage_error(403)).reason
    assert reason.startswith("configuration error: storage refused the credentials") and "AzureWebJobsStorage" in reason


def test_validation_error_names_the_fields() -> None:
    reason = classify(validation_error()).reason
    assert reason.startswith("invalid CheckpointInput: ")
    # the wording of every validated input (shared.config.messages.field_problems): "is required" and "unknown
    # field" read better in a run record than pydantic's "Field required" / "Extra inputs are not permitted"
    assert "source_id: is required" in reason and "source_idd: unknown field" in reason


def test_envelope_round_trip() -> None:
    assert Envelope.read(ok({"a": 1})) == Envelope(outcome="ok", value={"a": 1})
    assert Envelope.read(ok(None)).value is None
    assert Envelope.read(failed("x" * 5000)).reason == "x" * 1000
    assert Envelope.read(retry(-3, "busy")) == Envelope(outcome="retry", retry_after=0, reason="busy")
    for not_an_envelope in ({"fatal": "refused"}, {"status_url": "u"}, None, {"outcome": "ok", "counts": {}}):
        with pytest.raises(ValidationError):  # every activity returns an envelope (activities.guard)
            Envelope.read(not_an_envelope)


def test_a_corrupt_blob_is_permanent_and_named_with_its_fix() -> None:
    failure = classify(CorruptBlobError("state/a/checkpoint.json", "not JSON: line 1", fix="run `harvest verify`"))
    assert failure.permanent
    assert failure.reason == "state/a/checkpoint.json: unreadable (not JSON: line 1); run `harvest verify`"

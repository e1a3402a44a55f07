"""The envelope every guarded activity returns: ``ok`` with a value, ``failed`` with a permanent reason,
or ``retry`` after N seconds (the server said when). The orchestrator unwraps it in one place
(``orchestrators.calls``); ``shared.failure_policy`` decides which envelope an error becomes.

On the wire (Durable history) it is a plain dict: ``{"outcome": "ok", "value": ...}``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["ok", "failed", "retry"]
MAX_REASON = 1000


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    value: Any = None
    reason: str | None = Field(default=None, description="Why it failed, or why it must be retried.")
    retry_after: float | None = Field(default=None, ge=0, description="Seconds to wait before calling again.")

    @classmethod
    def read(cls, raw: Any) -> Envelope:
        """The envelope in an activity's result (every activity returns one: ``activities.guard``)."""
        return cls.model_validate(raw)


def ok(value: Any) -> dict[str, Any]:
    return {"outcome": "ok", "value": value}


def failed(reason: str) -> dict[str, Any]:
    return {"outcome": "failed", "reason": reason[:MAX_REASON]}


def retry(after: float, reason: str) -> dict[str, Any]:
    return {"outcome": "retry", "retry_after": max(0.0, after), "reason": reason[:MAX_REASON]}

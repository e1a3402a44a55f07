"""What the run service needs from the orchestration engine: an instance's state, and (to control a run)
terminate, suspend, resume and purge. Protocols, so the service stays host-free: the HTTP triggers
implement them with the Durable client (``triggers/instances.py``), the CLI with the local host's instance
store or its Durable endpoint (``cli/instances.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shared.runs.status import RUNTIME_ACTIVE


@dataclass(frozen=True)
class Instance:
    """One orchestration instance as the Durable status API reports it."""

    instance_id: str
    runtime_status: str  # Pending, Running, Suspended, ContinuedAsNew, Completed, Failed, Terminated, Canceled
    custom_status: Any = None
    output: Any = None
    input: Any = None
    name: str | None = None
    created_time: str | None = None  # ISO 8601, as the Durable status API shows them
    last_updated_time: str | None = None

    @property
    def active(self) -> bool:
        return self.runtime_status in RUNTIME_ACTIVE

    @property
    def progress(self) -> dict[str, Any]:
        """The custom status when it is an object (a run's progress, a source's phase and counts), else {}."""
        return self.custom_status if isinstance(self.custom_status, dict) else {}

    @classmethod
    def from_status_json(cls, instance_id: str, data: Mapping[str, Any]) -> Instance | None:
        """From the Durable HTTP API's status JSON (the local host stores its state in the same shape)."""
        status = data.get("runtimeStatus")
        if not isinstance(status, str):
            return None
        return cls(instance_id, status, data.get("customStatus"), data.get("output"), data.get("input"),
                   data.get("name"), data.get("createdTime"), data.get("lastUpdatedTime"))


class Orchestrations(Protocol):
    """Reading instances: all the live view needs."""

    async def get(self, instance_id: str) -> Instance | None:
        """The instance's state, None when there is no such instance."""
        ...


class OrchestrationControl(Orchestrations, Protocol):
    """Changing instances: what cancel, suspend, resume and purge need."""

    async def terminate(self, instance_id: str, reason: str) -> None: ...

    async def suspend(self, instance_id: str, reason: str) -> None: ...

    async def resume(self, instance_id: str, reason: str) -> None: ...

    async def purge(self, instance_id: str) -> int:
        """Delete the instance's history; the number of instances deleted (0 when there was none)."""
        ...

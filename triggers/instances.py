"""The Durable client as the run service's engine (``shared.runs.engine``): an instance's state, and
terminate, suspend, resume and purge, for the operator routes."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.durable_functions as df

from shared.runs.engine import Instance


def _iso(value: datetime | None) -> str | None:
    """A status time as the Durable HTTP API writes it (``2026-12-06T12:00:00Z``)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DurableOrchestrations:
    """``OrchestrationControl`` over a ``DurableOrchestrationClient``."""

    def __init__(self, client: df.DurableOrchestrationClient) -> None:
        self.client = client

    async def get(self, instance_id: str) -> Instance | None:
        status = await self.client.get_status(instance_id, show_input=True)
        if not status or status.runtime_status is None:
            return None
        return Instance(instance_id, status.runtime_status.value, status.custom_status, status.output, status.input_,
                        status.name, _iso(status.created_time), _iso(status.last_updated_time))

    async def terminate(self, instance_id: str, reason: str) -> None:
        await self.client.terminate(instance_id, reason)

    async def suspend(self, instance_id: str, reason: str) -> None:
        await self.client.suspend(instance_id, reason)

    async def resume(self, instance_id: str, reason: str) -> None:
        await self.client.resume(instance_id, reason)

    async def purge(self, instance_id: str) -> int:
        return int((await self.client.purge_instance_history(instance_id)).instances_deleted)

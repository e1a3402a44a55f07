"""The local host as the run service's engine (``shared.runs.engine``), two ways: read-only from the host's
instance store in Blob storage (works whichever process hosts the run, or none: ``harvest status --watch``,
and ``harvest run`` when it hands its run to ``harvest serve``), or, in the process that hosts the run,
through that host's own instance API (``harvest run``, ``resume``, ``cancel``): the operations its Durable
endpoints perform for the HTTP triggers' Durable client, without going through HTTP."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from shared.runs.engine import Instance

if TYPE_CHECKING:
    from devhost.host import LocalHost
    from devhost.store import InstanceStore


def _decoded(state: dict[str, Any]) -> dict[str, Any]:
    raw = state.get("input")
    if isinstance(raw, str):  # the host stores the input as the JSON text it was given
        try:
            return {**state, "input": json.loads(raw)}
        except ValueError:
            return {**state, "input": None}
    return state


class StoredInstances:
    """``Orchestrations`` over the local host's instance store (``devhost.store``)."""

    def __init__(self, store: InstanceStore) -> None:
        self.store = store

    async def get(self, instance_id: str) -> Instance | None:
        state = await self.store.read_state(instance_id)
        return None if state is None else Instance.from_status_json(instance_id, _decoded(state))


class HostInstances:
    """``OrchestrationControl`` over a local host running in this process (``devhost.host.LocalHost``): the
    status its Durable API answers with, and terminate/suspend/resume/purge as its Durable API performs them
    (an instance that does not exist, or has ended, refuses the operation: 404/410 there, an error here)."""

    def __init__(self, host: LocalHost) -> None:
        self.host = host

    async def get(self, instance_id: str) -> Instance | None:
        status = await self.host.get_status(instance_id)
        return None if status is None else Instance.from_status_json(instance_id, status)

    async def _send(self, operation: str, instance_id: str, reason: str) -> None:
        answer = await self.host.engine.send(instance_id, {"type": operation, "reason": reason})
        if answer != 202:
            why = "it has ended" if answer == 410 else "no such instance"
            raise LookupError(f"cannot {operation} {instance_id}: {why}")

    async def terminate(self, instance_id: str, reason: str) -> None:
        await self._send("terminate", instance_id, reason)

    async def suspend(self, instance_id: str, reason: str) -> None:
        await self._send("suspend", instance_id, reason)

    async def resume(self, instance_id: str, reason: str) -> None:
        await self._send("resume", instance_id, reason)

    async def purge(self, instance_id: str) -> int:
        return int(await self.host.engine.purge(instance_id))

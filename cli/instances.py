"""The local host as the run service's engine (``shared.runs.engine``), two ways: read-only from the host's
instance store in Blob storage (works whichever process hosts the run, or none: ``harvest status --watch``,
and ``harvest run`` when it hands its run to ``harvest serve``), or, in the process that hosts the run,
through the host's Durable RPC endpoint with the Durable client, as the triggers use it (``harvest run`` and
``harvest resume``). The RPC endpoint listens on loopback for its own host only, as the extension's does in
Azure: another process has no address for it and no key opens it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from shared.runs.engine import Instance

if TYPE_CHECKING:
    from devhost.host import LocalHost
    from devhost.store import InstanceStore
    from shared.runs.engine import Orchestrations
    from triggers.instances import DurableOrchestrations


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


def host_orchestrations(host: LocalHost) -> DurableOrchestrations:
    """``OrchestrationControl`` over a local host running in this process: the Durable client the host hands
    its functions (the same binding), so the CLI drives instances exactly as the HTTP triggers do."""
    import azure.durable_functions as df

    from triggers.instances import DurableOrchestrations

    return DurableOrchestrations(df.DurableOrchestrationClient(host.client_binding_json()))


@asynccontextmanager
async def stored_instances(connection_string: str, task_hub: str) -> AsyncIterator[Orchestrations]:
    """``Orchestrations`` read from the task hub's instance store (for a run another process hosts)."""
    from devhost.store import InstanceStore

    store = InstanceStore(connection_string, task_hub)
    try:
        await store.open()
        yield StoredInstances(store)
    finally:
        await store.close()

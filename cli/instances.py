"""The local host as the run service's engine (``shared.runs.engine``), two ways: read-only from the host's
instance store in Blob storage (works whichever process hosts the run, or none: ``harvest status --watch``),
or through a running host's Durable endpoint with the Durable client, as the triggers use it (``harvest
run`` and ``harvest resume``, which host the run or hand it to ``harvest serve``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from shared.runs.engine import Instance

if TYPE_CHECKING:
    from devhost.store import InstanceStore
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


def host_orchestrations(base_url: str, task_hub: str) -> DurableOrchestrations:
    """``OrchestrationControl`` over a running local host: the Durable client the host hands its functions
    (the same binding), so the CLI drives instances exactly as the HTTP triggers do."""
    import azure.durable_functions as df

    from devhost.durable_api import client_binding
    from triggers.instances import DurableOrchestrations

    return DurableOrchestrations(df.DurableOrchestrationClient(json.dumps(client_binding(base_url, task_hub))))

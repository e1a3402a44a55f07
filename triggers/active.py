"""Which run (if any) is still active, so a second start is refused instead of racing the first."""

from __future__ import annotations

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as S

from shared import names

ACTIVE = [S.Running, S.Pending, S.Suspended]


async def active_run(client: df.DurableOrchestrationClient) -> str | None:
    statuses = await client.get_status_by(runtime_status=ACTIVE)
    ids = sorted(s.instance_id for s in statuses if s.name == names.RUN_ORCHESTRATOR and s.instance_id)
    return ids[0] if ids else None

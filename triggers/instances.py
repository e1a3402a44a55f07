"""Durable instance helpers for the operator routes: a run's runtime status as a plain dict, the live
status of its running source orchestrations, and applying one operation to a run and its sources."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import azure.durable_functions as df

from shared import names

log = logging.getLogger("harvest.triggers")
ACTIVE_RUNTIME = {"Pending", "Running", "Suspended", "ContinuedAsNew"}
CONTROL_CONCURRENCY = 16


child_id = names.source_instance_id


async def runtime(client: df.DurableOrchestrationClient, instance_id: str) -> dict[str, Any] | None:
    status = await client.get_status(instance_id, show_input=True)
    if not status or status.runtime_status is None:
        return None
    return {"instanceId": instance_id, "runtimeStatus": status.runtime_status.value,
            "customStatus": status.custom_status, "output": status.output, "input": status.input_}


async def running_children(client: df.DurableOrchestrationClient, run_id: str,
                           source_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Custom status of each source orchestration that is still active (at most the window's worth)."""

    async def one(sid: str) -> tuple[str, dict[str, Any] | None]:
        state = await runtime(client, child_id(run_id, sid))
        if state is None or state["runtimeStatus"] not in ACTIVE_RUNTIME:
            return sid, None
        custom = state.get("customStatus")
        return sid, custom if isinstance(custom, dict) else {}

    found = await asyncio.gather(*(one(sid) for sid in source_ids[:64]))
    return {sid: custom for sid, custom in found if custom is not None}


def running_source_ids(record: dict[str, Any] | None, state: dict[str, Any] | None) -> list[str]:
    """Sources that may have an active orchestration, from the run's progress or its record."""
    custom = (state or {}).get("customStatus")
    sources = custom.get("sources") if isinstance(custom, dict) else None
    if isinstance(sources, dict) and sources:
        ids = [sid for sid, info in sources.items() if isinstance(info, dict) and info.get("status") == "running"]
        if ids or not custom.get("aggregated"):
            return ids
    return [sid for sid, info in ((record or {}).get("sources") or {}).items()
            if info.get("status") in ("pending", "running")]


async def apply_to_run(client: df.DurableOrchestrationClient, operation: str, run_id: str,
                       source_ids: list[str], reason: str, *, parent: bool = True) -> None:
    """terminate/suspend/resume the run (unless ``parent`` is False: it already ended), then every source
    orchestration it may have started (one that does not exist or already ended is fine)."""
    if parent:
        await getattr(client, operation)(run_id, reason)
    limit = asyncio.Semaphore(CONTROL_CONCURRENCY)

    async def child(sid: str) -> None:
        async with limit:
            try:
                await getattr(client, operation)(child_id(run_id, sid), reason)
            except Exception as exc:  # not started yet, or already finished
                log.debug("%s %s: %s", operation, child_id(run_id, sid), exc)

    await asyncio.gather(*(child(sid) for sid in source_ids))

"""What a command looks at before it acts on the task hub: who holds it (a live `harvest serve` or another
`harvest run`, from the hub's lock), and which run is active (the active-run marker, whose orchestration
has not ended) with what storage holds about it — the run record, the orchestrations' last custom status
(per-source phase and counts), so an interrupted run is found at once and described as it stood.

Read-only: it starts no host, so an interrupted run is not resumed by looking at it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cli.render import source_phase
from devhost.lock import Holder
from shared.runs.status import RUN_FINAL

START_GRACE = timedelta(minutes=2)  # a marker whose run has no orchestration yet is still being started
WAIT_FOR_HOST_S = 30.0  # how long `harvest run` waits for another command to let go of the task hub


@dataclass(frozen=True)
class Hub:
    holder: Holder | None  # the live host holding the task hub, if any
    run_id: str | None = None  # the active run, if any
    view: dict[str, Any] | None = None  # its live view, as storage holds it

    @property
    def suspended(self) -> bool:
        return self.view is not None and self.view.get("runtime_status") == "Suspended"


async def inspect_hub(connection_string: str, task_hub: str) -> Hub:
    """The task hub's holder and active run (``Hub``), from storage alone."""
    from cli.instances import StoredInstances
    from devhost.lock import read_holder
    from devhost.store import InstanceStore
    from shared.pipeline.context import open_context
    from shared.runs import active
    from shared.runs.operations import live_view

    store = InstanceStore(connection_string, task_hub)
    try:
        await store.open()
        holder = await read_holder(store.container)
        async with open_context() as ctx:
            marker = await active.read(ctx.store)
            if marker is None or not marker.run_id:
                return Hub(holder)
            instances = StoredInstances(store)
            run = await instances.get(marker.run_id)
            since = marker.since or datetime.min.replace(tzinfo=UTC)
            if (run is not None and not run.active) or (run is None and datetime.now(UTC) - since > START_GRACE):
                return Hub(holder)  # a stale marker: its run ended (the next start removes it)
            view = await live_view(ctx.store, instances, marker.run_id)
            if view is not None and view.get("status") in RUN_FINAL:
                return Hub(holder)
            return Hub(holder, marker.run_id, view)
    finally:
        await store.close()


async def wait_for_release(connection_string: str, task_hub: str, holder: Holder, say: Any,
                           timeout: float = WAIT_FOR_HOST_S) -> Hub:
    """Wait (bounded, saying so) while another command holds the task hub without an active run — it is
    starting or finishing one; the hub as it is when it lets go or the time is up."""
    say(f"waiting for {holder.describe()} to let go of the task hub (up to {timeout:.0f} s) ...")
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        hub = await inspect_hub(connection_string, task_hub)
        if hub.holder is None or hub.run_id is not None or asyncio.get_running_loop().time() >= deadline:
            return hub
        await asyncio.sleep(0.5)


def progress_words(view: dict[str, Any] | None, limit: int = 3) -> str:
    """Where the run stood, per source: ``samples: embed 2/2 (page 1), 36 found, 36 added, 51 embedded``."""
    if not view:
        return ""
    parts = []
    sources = view.get("sources") or {}
    for sid, info in list(sources.items())[:limit]:
        phase = source_phase(info)
        counts = info.get("counts") or {}
        numbers = [f"{counts[k]} {word}" for k, word in (("discovered", "found"), ("added", "added"),
                                                          ("updated", "updated"), ("chunks_embedded", "embedded"),
                                                          ("failed", "failed")) if counts.get(k)]
        parts.append(f"{sid}: {phase}" + (", " + ", ".join(numbers) if numbers else ""))
    if len(sources) > limit:
        parts.append(f"{len(sources) - limit} more source(s)")
    return "; ".join(parts)


def _started(view: dict[str, Any] | None) -> str:
    when = (view or {}).get("started_at") or (view or {}).get("requested_at")
    if not when:
        return ""
    try:
        at = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    except ValueError:
        return ""
    return f"started {at:%Y-%m-%d %H:%M} UTC"


def active_run_message(hub: Hub, *, verbose: bool = False, lease_detail: str | None = None) -> str:
    """Why a new run cannot start now, and the ways on, naming the commands."""
    assert hub.run_id is not None
    run_id = hub.run_id
    facts = ", ".join(p for p in (_started(hub.view), progress_words(hub.view)) if p)
    facts = f" ({facts})" if facts else ""
    if hub.holder is None:
        state = "is suspended" if hub.suspended else "was interrupted: nothing is running it now"
        message = (f"run {run_id} {state}{facts}.\n"
                   f"  `harvest resume` continues it; `harvest cancel {run_id}` abandons it.")
    elif hub.suspended:
        message = (f"run {run_id} is suspended in {hub.holder.describe()}{facts}.\n"
                   f"  `harvest resume {run_id}` resumes it; `harvest cancel {run_id}` abandons it.")
    else:
        message = (f"run {run_id} is running in {hub.holder.describe()}{facts}.\n"
                   f"  `harvest status {run_id} --watch` follows it; `harvest cancel {run_id}` stops it.")
    if verbose and lease_detail:
        message += f"\n  ({lease_detail})"
    return message

"""`harvest status RUN_ID --watch`: the live view of a run (``shared.runs.operations.live_view``), refreshed
until it ends. Reads the run record and the local host's instance state from storage, so it works whichever
process hosts the run, and says so when none does."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.live import Live

from cli.commands.common import err
from cli.render import view_table
from shared.runs.status import RUN_FINAL

# One poll's bound. The storage SDK retries a refused connection with exponential backoff (15, 18, 24 s: ~85 s
# measured before a watch whose storage had gone said so); a poll that has no answer in this long means storage
# stopped answering, and the watch says so.
READ_BOUND_S = 15.0


async def read_view(run_id: str, task_hub: str, connection_string: str) -> tuple[dict[str, Any] | None, bool]:
    """The live view of the run, and whether a local host holds the task hub (so something runs it)."""
    from cli.instances import StoredInstances
    from devhost.store import InstanceStore
    from shared.pipeline.context import open_context
    from shared.runs.operations import live_view

    store = InstanceStore(connection_string, task_hub)
    try:
        await store.open()  # inside: an open that fails (storage gone) still closes what it opened
        async with open_context() as ctx:
            view = await live_view(ctx.store, StoredInstances(store), run_id)
        return view, await hosted(store)
    finally:
        await store.close()


async def hosted(store: Any) -> bool:
    """True while some local host holds the task hub's lease (it is renewed every 5 s while it runs)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        props = await store.container.get_blob_client("host.lock").get_blob_properties()
    except ResourceNotFoundError:
        return False
    return bool(props.lease.state == "leased")


async def watch(run_id: str, task_hub: str, connection_string: str,
                interval: float = 1.0) -> tuple[dict[str, Any] | None, str | None]:
    """Follow the run until it ends. Returns the last view and, when watching had to stop before the run
    ended, one line saying why: storage stopped answering, or no host has run it for a few polls."""
    view, is_hosted, note = await _read(run_id, task_hub, connection_string)
    if view is None or view["status"] in RUN_FINAL or note is not None:
        return view, note
    unhosted = 0 if is_hosted else 1
    with Live(view_table(view), console=err, refresh_per_second=4) as live:
        while view["status"] not in RUN_FINAL:
            if unhosted >= 3:  # the lease is renewed every 5 s: gone for 3 polls means nobody runs it
                return view, (f"run {run_id} is unfinished and no local host is running it; `harvest resume` "
                              f"(or `harvest serve`) continues it, `harvest cancel {run_id}` abandons it")
            await asyncio.sleep(interval)
            latest, is_hosted, note = await _read(run_id, task_hub, connection_string)
            if note is not None:
                return view, note
            view = latest or view
            live.update(view_table(view))
            unhosted = 0 if is_hosted else unhosted + 1
    return view, None


async def _read(run_id: str, task_hub: str, connection_string: str
                ) -> tuple[dict[str, Any] | None, bool, str | None]:
    from azure.core.exceptions import AzureError

    try:
        view, is_hosted = await asyncio.wait_for(read_view(run_id, task_hub, connection_string), READ_BOUND_S)
    except (AzureError, OSError, TimeoutError) as exc:
        text = str(exc).strip()
        if isinstance(exc, TimeoutError):
            text = f"no answer in {READ_BOUND_S:.0f} s"
        first = text.splitlines()[0][:200] if text else type(exc).__name__
        return None, False, f"storage stopped answering ({first}); watch again with `harvest status {run_id} --watch`"
    return view, is_hosted, None

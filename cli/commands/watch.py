"""`harvest status RUN_ID --watch`: the live view of a run, refreshed until it ends. Reads the run record
and the local host's instance state from storage, so it works whichever process hosts the run."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.live import Live
from rich.table import Table

from cli.commands.common import err
from cli.render import COLUMNS, HEADERS

DONE = {"completed", "partial", "failed", "cancelled"}


def view_table(view: dict[str, Any]) -> Table:
    progress = view.get("progress") or {}
    title = f"run {view['run_id']} — {view['status']}"
    if progress.get("total"):
        title += f" — {progress.get('done', 0)}/{progress['total']} sources"
    if progress.get("eta_s") is not None and view["status"] not in DONE:
        title += f", ETA {progress['eta_s']:.0f} s"
    table = Table(title=title, title_justify="left")
    table.add_column("source")
    table.add_column("phase")
    for header in HEADERS:
        table.add_column(header, justify="right")
    for sid, info in (view.get("sources") or {}).items():
        phase = info.get("phase") or info.get("status", "")
        if phase == "done":
            phase = info.get("status", "done")
        if pos := info.get("position"):
            phase += f" {pos.get('batch')}/{pos.get('batches')} (page {pos.get('page')})"
        counts = info.get("counts") or {}
        table.add_row(sid, phase, *(str(counts.get(c, 0)) for c in COLUMNS))
    return table


async def read_view(run_id: str, task_hub: str, connection_string: str) -> tuple[dict[str, Any] | None, bool]:
    """The live view of the run, and whether a local host holds the task hub (so something runs it)."""
    from devhost.store import InstanceStore
    from shared.pipeline.context import open_context
    from shared.runs.view import live_view
    from shared.storage.records import read_run

    store = InstanceStore(connection_string, task_hub)
    await store.open()
    try:
        async with open_context() as ctx:
            summary = await read_run(ctx.store, run_id)
        record = summary.model_dump(mode="json") if summary else None
        state = await store.read_state(run_id)
        runtime = None
        if state is not None:
            runtime = {"instanceId": run_id, "runtimeStatus": state["runtimeStatus"],
                       "customStatus": state.get("customStatus"), "output": state.get("output"), "input": None}
        children: dict[str, dict[str, Any]] = {}
        for sid, info in ((record or {}).get("sources") or {}).items():
            if info.get("status") in ("pending", "running"):
                child = await store.read_state(f"{run_id}:{sid}")
                if child and child["runtimeStatus"] in ("Running", "Pending", "Suspended"):
                    children[sid] = child.get("customStatus") or {}
        return live_view(record, runtime, children), await hosted(store)
    finally:
        await store.close()


async def hosted(store: Any) -> bool:
    """True while some local host holds the task hub's lease (it is renewed every 5 s while it runs)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        props = await store.container.get_blob_client("host.lock").get_blob_properties()
    except ResourceNotFoundError:
        return False
    return props.lease.state == "leased"


async def watch(run_id: str, task_hub: str, connection_string: str,
                interval: float = 1.0) -> tuple[dict[str, Any] | None, str | None]:
    """Follow the run until it ends. Returns the last view and, when watching had to stop before the run
    ended, one line saying why: storage stopped answering, or no host has run it for a few polls."""
    view, is_hosted, note = await _read(run_id, task_hub, connection_string)
    if view is None or view["status"] in DONE or note is not None:
        return view, note
    unhosted = 0 if is_hosted else 1
    with Live(view_table(view), console=err, refresh_per_second=4) as live:
        while view["status"] not in DONE:
            if unhosted >= 3:  # the lease is renewed every 5 s: gone for 3 polls means nobody runs it
                return view, (f"run {run_id} is unfinished and no local host is running it; "
                              "`harvest resume` (or `harvest serve`) continues it")
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
        view, is_hosted = await read_view(run_id, task_hub, connection_string)
    except (AzureError, OSError) as exc:
        text = str(exc).strip()
        first = text.splitlines()[0][:200] if text else type(exc).__name__
        return None, False, f"storage stopped answering ({first}); watch again with `harvest status {run_id} --watch`"
    return view, is_hosted, None

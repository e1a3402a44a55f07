"""Following a run until it ends (`harvest run`, `harvest resume`): its live view on the terminal or as plain
lines, and what it ended as. It stops, saying why, when the host running it loses the task hub, and says
so (bounded) when storage stops answering — never a silent wait."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.live import Live

from cli.commands.common import err, fail
from cli.render import view_line, view_table
from shared.runs.engine import Instance, Orchestrations
from shared.runs.status import RUNTIME_ENDED

POLL_S = 0.25  # a no-change run ends within a few hundred milliseconds: poll often, it costs two reads
STORAGE_PATIENCE_S = 60.0  # how long storage may not answer before following stops (the run is safe)


class HostLost(Exception):
    """The host running the run lost the task hub (paused too long, storage unreachable): it stopped."""


def lost_message(command: str, run_id: str | None, why: str | None) -> str:
    """What a command whose in-process host lost the task hub says before it exits (as `harvest serve`
    does in the same case)."""
    what = f"it stopped running run {run_id}; `harvest resume` continues it" if run_id else "it stopped"
    return (f"this `{command}` lost its hold on the task hub ({why or 'paused too long, or storage unreachable'}; "
            f"another host may have taken over): {what}")


def _ended(view: dict[str, Any] | None) -> bool:
    return view is not None and view.get("runtime_status") in RUNTIME_ENDED


async def follow(engine: Orchestrations, run_id: str, *, live: bool,
                 lease_lost: asyncio.Event | None = None) -> Instance | None:
    """Show the run's live view (``shared.runs.operations.live_view``) until its orchestration ends; its
    final state. ``lease_lost``: set when the host running it lost the task hub (raises ``HostLost``)."""
    waiter = asyncio.ensure_future(lease_lost.wait()) if lease_lost is not None else None
    try:
        return await _loop(engine, run_id, live, lease_lost, waiter)
    finally:
        if waiter is not None:
            waiter.cancel()


async def _loop(engine: Orchestrations, run_id: str, live: bool, lease_lost: asyncio.Event | None,
                waiter: asyncio.Future[Any] | None) -> Instance | None:
    from azure.core.exceptions import AzureError

    from shared.pipeline.context import open_context
    from shared.runs.operations import live_view

    loop = asyncio.get_running_loop()
    view: dict[str, Any] | None = None
    failing_since: float | None = None
    shown = ""
    async with open_context() as ctx:
        with Live(console=err, refresh_per_second=4, transient=True) if live else _NoLive() as shown_live:
            while True:
                if lease_lost is not None and lease_lost.is_set():
                    raise HostLost(run_id)
                try:
                    view = await live_view(ctx.store, engine, run_id)
                    failing_since = None
                except (AzureError, OSError) as exc:
                    now = loop.time()
                    if failing_since is None:
                        failing_since = now
                        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
                        err.print(f"storage is not answering ({first}); waiting up to {STORAGE_PATIENCE_S:.0f} s "
                                  "...", highlight=False, markup=False)
                    elif now - failing_since > STORAGE_PATIENCE_S:
                        raise fail(f"storage has not answered for {STORAGE_PATIENCE_S:.0f} s: stopped following "
                                   f"run {run_id} (nothing is lost; `harvest status {run_id}` tells where it is)",
                                   1) from None
                if _ended(view):
                    break
                if view is not None:
                    if live:
                        shown_live.update(view_table(view))
                    elif (line := view_line(view)) != shown:  # not a terminal: a line whenever progress changes
                        err.print(line, highlight=False, markup=False, soft_wrap=True)
                        shown = line
                if waiter is None:
                    await asyncio.sleep(POLL_S)
                else:  # wake at once when the host stops
                    await asyncio.wait({waiter}, timeout=POLL_S)
    return await engine.get(run_id)


class _NoLive:
    def __enter__(self) -> _NoLive:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, _: Any) -> None:
        return None


async def ended_summary(status: Instance | None, run_id: str) -> dict[str, Any]:
    """The run summary a followed run ended with; a cancelled run's record (the orchestration was terminated
    and returns none); otherwise exit 1 with the reason."""
    from shared.errors import failure_reason

    if status is not None and status.runtime_status == "Completed" and isinstance(status.output, dict):
        return status.output
    if status is not None and status.runtime_status == "Terminated":
        from shared.pipeline.context import open_context
        from shared.runs.record import read as read_run

        async with open_context() as ctx:
            record = await read_run(ctx.store, run_id)
        if record is not None and record.status == "cancelled":
            err.print(f"run {run_id} was cancelled" + (f": {record.message}" if record.message else ""),
                      highlight=False, markup=False)
            return record.model_dump(mode="json")
    ended = status.runtime_status if status else "unknown"
    raise fail(f"run {run_id} ended {ended}: {failure_reason(str(status.output if status else None))}", 1)

"""The daily timer: starts the run ``daily-YYYY-MM-DD`` unless it already ran or another run is active (the
same active-run marker as ``POST /api/runs``, so a timer and an HTTP start can never both win)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from shared import names
from shared.models import RunInput
from shared.pipeline.context import manifest_for
from shared.runs.active import release
from shared.runs.snapshot import write_snapshot
from shared.settings import get_settings
from triggers.active import take
from triggers.http_requests import open_store

bp = df.Blueprint()
log = logging.getLogger("harvest.triggers")


def daily_run_id(now: datetime) -> str:
    return f"daily-{now:%Y-%m-%d}"


@bp.function_name(names.DAILY_TIMER)
@bp.timer_trigger(schedule="%HARVEST_SCHEDULE%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def daily_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    now = datetime.now(UTC)
    run_id = daily_run_id(now)
    existing = await client.get_status(run_id)
    if existing is not None and existing.runtime_status is not None:
        log.info("daily run %s already exists (%s); not starting another", run_id, existing.runtime_status.value)
        return
    async with open_store() as store:
        running = await take(client, store, run_id, "timer")
        if running is not None:
            log.warning("run %s is still active; skipping daily run %s", running, run_id)
            return
        try:
            run = RunInput(run_id=run_id, trigger="timer", requested_at=now)
            await write_snapshot(store, run_id, manifest_for(get_settings()))  # the sources travel with the run
            await client.start_new(names.RUN_ORCHESTRATOR, run_id, run.model_dump(mode="json"))
        except BaseException:
            await release(store, run_id)
            raise
    log.info("started daily run %s", run_id)

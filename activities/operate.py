"""Operating a run: publish its report, notify, apply retention. Thin adapters over
``shared.runs``, ``shared.runs.report`` and ``shared.notify``. Notify and retention never raise: a failure is
logged and returned, so it can never change the run's result."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as S

from activities.contract import activity
from shared import contracts
from shared.models import NotificationsSent, ReportWritten, RetentionApplied, RunRef
from shared.notify import notify
from shared.pipeline.context import open_context
from shared.runs import record
from shared.runs.index import sync_index
from shared.runs.report import publish_report
from shared.runs.retention import purge_expired

bp = df.Blueprint()
log = logging.getLogger("harvest.activities")


@activity(bp, contracts.PUBLISH_RUN, client=True)
async def publish_run_activity(ref: RunRef, client: df.DurableOrchestrationClient) -> ReportWritten:
    """Render the report next to the run record and bring the run index up to date."""

    async def history(instance_id: str) -> list[dict[str, Any]]:  # as the Durable status API shows it
        status = await client.get_status(instance_id, show_history=True, show_history_output=True)
        return list(getattr(status, "historyEvents", None) or status.history or [])

    async with open_context() as ctx:
        summary = await record.read(ctx.store, ref.run_id)
        if summary is None:
            return ReportWritten()
        report, size = await publish_report(ctx.store, summary, history)
        await record.set_report(ctx.store, ref.run_id, report)
        await sync_index(ctx.store, ref.run_id)
    log.info("published report of run %s (%d bytes)", ref.run_id, size)
    return ReportWritten(report=report, bytes=size)


@activity(bp, contracts.NOTIFY_RUN)
async def notify_run_activity(ref: RunRef) -> NotificationsSent:
    try:
        async with open_context() as ctx:
            summary = await record.read(ctx.store, ref.run_id)
            if summary is None:
                return NotificationsSent()
            sent = await notify(ctx.settings, summary)
            await record.add_notifications(ctx.store, ref.run_id, sent)
            return NotificationsSent(notifications=sent)
    except Exception as exc:  # never fail the run because of a notification
        log.exception("run %s: notifications could not be sent", ref.run_id)
        return NotificationsSent(error=f"{type(exc).__name__}: {exc}"[:300])


@activity(bp, contracts.APPLY_RETENTION, client=True)
async def apply_retention_activity(ref: RunRef, client: df.DurableOrchestrationClient) -> RetentionApplied:
    """Purge run records, reports, index entries and orchestration history older than the retention."""
    try:
        async with open_context() as ctx:
            days = ctx.settings.retention_days
            if days == 0:
                return RetentionApplied(skipped="HARVEST_RETENTION_DAYS is 0")
            result = RetentionApplied(**await purge_expired(ctx.store, now=datetime.now(UTC), days=days,
                                                            keep={ref.run_id}))
        purged = await client.purge_instance_history_by(
            created_time_from=datetime(2000, 1, 1, tzinfo=UTC),
            created_time_to=datetime.fromisoformat(str(result.cutoff)),
            runtime_status=[S.Completed, S.Failed, S.Terminated])
        return result.model_copy(update={"instances_purged": purged.instances_deleted})
    except Exception as exc:  # retention never changes the run's result
        log.exception("retention failed")
        return RetentionApplied(error=f"{type(exc).__name__}: {exc}"[:300])

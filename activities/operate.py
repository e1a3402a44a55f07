"""Operating a run: publish its report, notify, apply retention. Thin adapters over
``shared.runs``, ``shared.report`` and ``shared.notify``. Notify and retention never raise: a failure is
logged and returned, so it can never change the run's result."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as S

from activities.contract import activity
from shared import contracts, names
from shared.models import NotificationsSent, ReportWritten, RetentionApplied, RunRef, RunSummary
from shared.notify import notify
from shared.pipeline.context import open_context
from shared.runs import record
from shared.runs.index import sync_index
from shared.runs.operations import render_run_report
from shared.runs.retention import purge_expired
from shared.storage import layout

bp = df.Blueprint()
log = logging.getLogger("harvest.activities")
HISTORY_SOURCES = 100  # sources whose history feeds the report's chart
REPORT_TYPE = "text/html; charset=utf-8"


async def _histories(client: df.DurableOrchestrationClient, summary: RunSummary) -> list[dict[str, Any]]:
    """The history of the run's source orchestrations and of their batch lanes (where its prepare activities
    ran), as the status API shows it; a source whose history cannot be read is left out of the chart."""
    limit = asyncio.Semaphore(8)
    ids: list[str] = []
    for sid, result in list(summary.sources.items())[:HISTORY_SOURCES]:
        ids.append(names.source_instance_id(summary.run_id, sid))
        ids += [names.batch_lane_id(summary.run_id, sid, page, lane) for page in range(result.pages)
                for lane in range(result.lanes)]

    async def one(instance_id: str) -> list[dict[str, Any]]:
        async with limit:
            try:
                status = await client.get_status(instance_id, show_history=True, show_history_output=True)
            except Exception as exc:  # the chart falls back to per-source finish times
                log.info("no history for %s (%s)", instance_id, exc)
                return []
        return list(getattr(status, "historyEvents", None) or status.history or [])

    events = await asyncio.gather(*(one(iid) for iid in ids))
    return [ev for group in events for ev in group if isinstance(ev, dict)]


@activity(bp, contracts.PUBLISH_RUN, client=True)
async def publish_run_activity(ref: RunRef, client: df.DurableOrchestrationClient) -> ReportWritten:
    """Render the report next to the run record and bring the run index up to date."""
    async with open_context() as ctx:
        summary = await record.read(ctx.store, ref.run_id)
        if summary is None:
            return ReportWritten()
        html = render_run_report(summary, await _histories(client, summary))
        report = layout.report_blob(ref.run_id)
        await ctx.store.write_bytes(report, html.encode("utf-8"), content_settings=_html_type())
        await record.set_report(ctx.store, ref.run_id, report)
        await sync_index(ctx.store, ref.run_id)
    log.info("published report of run %s (%d bytes)", ref.run_id, len(html))
    return ReportWritten(report=report, bytes=len(html))


def _html_type() -> Any:
    from azure.storage.blob import ContentSettings

    return ContentSettings(content_type=REPORT_TYPE)


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

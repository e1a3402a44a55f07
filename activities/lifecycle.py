"""Lifecycle activities: plan a run, open/close its record, claim/checkpoint/release a source."""

from __future__ import annotations

import os

import azure.durable_functions as df

from activities.contract import activity
from shared import contracts
from shared.models import (
    CheckpointInput,
    CloseRunInput,
    Done,
    FinishSourceInput,
    LoadSourcesInput,
    OpenRunInput,
    RunPlan,
    RunSummary,
    SourceStart,
    SourceTask,
)
from shared.pipeline import lifecycle
from shared.pipeline.context import open_context
from shared.redact import redact_model
from shared.runs.control import is_cancelled, refuse_if_cancelled
from shared.runs.links import lasting_status_url
from shared.settings import get_settings
from shared.storage import layout, records

bp = df.Blueprint()


@activity(bp, contracts.LOAD_SOURCES)
async def load_sources_activity(request: LoadSourcesInput) -> RunPlan:
    async with open_context() as ctx:
        await ctx.store.ensure_container()
        manifest = await ctx.run_manifest(request.run_id)  # the sources the run was started with
        return await lifecycle.plan(ctx, request.options, manifest)


@activity(bp, contracts.OPEN_RUN)
async def open_run_activity(request: OpenRunInput) -> RunSummary:
    url = lasting_status_url(request.run.run_id, public_url=get_settings().public_url,
                             website_hostname=os.environ.get("WEBSITE_HOSTNAME"))
    async with open_context() as ctx:
        return await lifecycle.open_run(ctx, request.run, request.sources, url)


@activity(bp, contracts.CLOSE_RUN)
async def close_run_activity(request: CloseRunInput) -> RunSummary:
    summary = redact_model(request.summary)  # the record keeps no secret an error message may have carried
    async with open_context() as ctx:
        return await lifecycle.close_run(ctx, summary)


@activity(bp, contracts.BEGIN_SOURCE, cancellable=True)
async def begin_source_activity(task: SourceTask) -> SourceStart:
    async with open_context() as ctx:
        start = await lifecycle.begin_source(ctx, task)
        if start.claimed and await is_cancelled(ctx.store, task.run_id):
            # cancelled while we claimed: the cancel may have released its claims before ours landed
            await records.release_source(ctx.store, task.source_id, task.run_id)
            await refuse_if_cancelled(ctx.store, task.run_id)
        return start


@activity(bp, contracts.CHECKPOINT, cancellable=True)
async def checkpoint_activity(request: CheckpointInput) -> Done:
    async with open_context() as ctx:
        await lifecycle.save_cursor(ctx, request.run_id, request.source_id, request.cursor)
    return Done()


@activity(bp, contracts.FINISH_SOURCE)
async def finish_source_activity(request: FinishSourceInput) -> Done:
    async with open_context() as ctx:
        if await is_cancelled(ctx.store, request.run_id):  # the claim was released by the cancel
            await ctx.store.delete_prefix(layout.source_staging_prefix(request.run_id, request.result.source_id))
            return Done()
        await lifecycle.finish_source(ctx, request.run_id, request.result, request.high_water, request.dry_run,
                                      request.full_refresh)
    return Done()

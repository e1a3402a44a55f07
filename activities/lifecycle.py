"""Lifecycle activities: plan a run, open/close its record, claim/checkpoint/release a source."""

from __future__ import annotations

import os
from typing import Any

import azure.durable_functions as df

from activities.guard import Payload, guarded, unless_cancelled
from shared import names
from shared.models import (
    CheckpointInput,
    CloseRunInput,
    FinishSourceInput,
    LoadSourcesInput,
    OpenRunInput,
    RunSummary,
    SourceTask,
)
from shared.pipeline import lifecycle
from shared.pipeline.context import open_context
from shared.redact import redact_value
from shared.runs.control import is_cancelled, refuse_if_cancelled
from shared.runs.links import lasting_status_url
from shared.settings import get_settings
from shared.storage import layout, records

bp = df.Blueprint()


@bp.function_name(names.LOAD_SOURCES)
@bp.activity_trigger(input_name="payload")
@guarded
async def load_sources_activity(payload: Payload) -> dict[str, Any]:
    request = LoadSourcesInput.model_validate(payload)
    async with open_context() as ctx:
        await ctx.store.ensure_container()
        manifest = await ctx.run_manifest(request.run_id)  # the sources the run was started with
        return (await lifecycle.plan(ctx, request.options, manifest)).model_dump(mode="json")


@bp.function_name(names.OPEN_RUN)
@bp.activity_trigger(input_name="payload")
@guarded
async def open_run_activity(payload: Payload) -> dict[str, Any]:
    request = OpenRunInput.model_validate(payload)
    url = lasting_status_url(request.run.run_id, public_url=get_settings().public_url,
                             website_hostname=os.environ.get("WEBSITE_HOSTNAME"))
    async with open_context() as ctx:
        return (await lifecycle.open_run(ctx, request.run, request.sources, url)).model_dump(mode="json")


@bp.function_name(names.CLOSE_RUN)
@bp.activity_trigger(input_name="payload")
@guarded
async def close_run_activity(payload: Payload) -> dict[str, Any]:
    request = CloseRunInput.model_validate(payload)
    summary = RunSummary.model_validate(redact_value(request.summary.model_dump(mode="json")))
    async with open_context() as ctx:  # the record keeps no secret an error message may have carried
        return (await lifecycle.close_run(ctx, summary)).model_dump(mode="json")


@bp.function_name(names.BEGIN_SOURCE)
@bp.activity_trigger(input_name="payload")
@guarded
@unless_cancelled
async def begin_source_activity(payload: Payload) -> dict[str, Any]:
    task = SourceTask.model_validate(payload)
    async with open_context() as ctx:
        start = await lifecycle.begin_source(ctx, task)
        if start.claimed and await is_cancelled(ctx.store, task.run_id):
            # cancelled while we claimed: the cancel may have released its claims before ours landed
            await records.release_source(ctx.store, task.source_id, task.run_id)
            await refuse_if_cancelled(ctx.store, task.run_id)
        return start.model_dump(mode="json")


@bp.function_name(names.CHECKPOINT)
@bp.activity_trigger(input_name="payload")
@guarded
@unless_cancelled
async def checkpoint_activity(payload: Payload) -> None:
    request = CheckpointInput.model_validate(payload)
    async with open_context() as ctx:
        await lifecycle.save_cursor(ctx, request.run_id, request.source_id, request.cursor)


@bp.function_name(names.FINISH_SOURCE)
@bp.activity_trigger(input_name="payload")
@guarded
async def finish_source_activity(payload: Payload) -> None:
    request = FinishSourceInput.model_validate(payload)
    async with open_context() as ctx:
        if await is_cancelled(ctx.store, request.run_id):  # the claim was released by the cancel
            await ctx.store.delete_prefix(layout.source_staging_prefix(request.run_id, request.result.source_id))
            return
        await lifecycle.finish_source(ctx, request.run_id, request.result, request.high_water, request.dry_run,
                                      request.full_refresh)

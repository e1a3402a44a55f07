"""Lifecycle activities: plan a run, open/close its record, claim/checkpoint/release a source."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.guard import Payload, permanent_errors_as_results, unless_cancelled
from shared import names
from shared.models import RunInput, RunOptions, RunSummary, SourceResult, SourceTask
from shared.pipeline import lifecycle
from shared.pipeline.context import open_context
from shared.runs.control import is_cancelled, refuse_if_cancelled
from shared.storage import layout, records

bp = df.Blueprint()


@bp.function_name(names.LOAD_SOURCES)
@bp.activity_trigger(input_name="payload")
@permanent_errors_as_results
async def load_sources_activity(payload: Payload) -> dict[str, Any]:
    async with open_context() as ctx:
        await ctx.store.ensure_container()
        return lifecycle.plan(ctx, RunOptions.model_validate(payload["options"]))


@bp.function_name(names.OPEN_RUN)
@bp.activity_trigger(input_name="payload")
@permanent_errors_as_results
async def open_run_activity(payload: Payload) -> dict[str, Any]:
    async with open_context() as ctx:
        run = RunInput.model_validate(payload["run"])
        return (await lifecycle.open_run(ctx, run, payload["sources"])).model_dump(mode="json")


@bp.function_name(names.CLOSE_RUN)
@bp.activity_trigger(input_name="payload")
@permanent_errors_as_results
async def close_run_activity(payload: Payload) -> dict[str, Any]:
    async with open_context() as ctx:
        summary = RunSummary.model_validate(payload["summary"])
        return (await lifecycle.close_run(ctx, summary)).model_dump(mode="json")


@bp.function_name(names.BEGIN_SOURCE)
@bp.activity_trigger(input_name="payload")
@permanent_errors_as_results
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
@permanent_errors_as_results
@unless_cancelled
async def checkpoint_activity(payload: Payload) -> None:
    async with open_context() as ctx:
        await lifecycle.save_cursor(ctx, payload["run_id"], payload["source_id"], payload["cursor"])


@bp.function_name(names.FINISH_SOURCE)
@bp.activity_trigger(input_name="payload")
@permanent_errors_as_results
async def finish_source_activity(payload: Payload) -> None:
    async with open_context() as ctx:
        if await is_cancelled(ctx.store, payload["run_id"]):  # the claim was released by the cancel
            result = SourceResult.model_validate(payload["result"])
            await ctx.store.delete_prefix(layout.source_staging_prefix(payload["run_id"], result.source_id))
            return
        await lifecycle.finish_source(
            ctx,
            payload["run_id"],
            SourceResult.model_validate(payload["result"]),
            payload.get("high_water"),
            bool(payload.get("dry_run")),
            bool(payload.get("full_refresh")),
        )

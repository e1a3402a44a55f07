"""Maintenance activities: compaction of old corpus versions."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.guard import Payload, permanent_errors_as_results
from shared import names
from shared.pipeline.compact import compact_source
from shared.pipeline.context import open_context

bp = df.Blueprint()


@bp.function_name(names.COMPACT_SOURCE)
@bp.activity_trigger(input_name="payload")
@permanent_errors_as_results
async def compact_source_activity(payload: Payload) -> dict[str, Any]:
    async with open_context() as ctx:
        result = await compact_source(ctx, payload["source_id"], int(payload["keep"]))
        return result.model_dump(mode="json")

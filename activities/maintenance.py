"""Maintenance activities: compaction of old corpus versions, one page of a source's documents per call."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.guard import Payload, guarded
from shared import names
from shared.models import CompactSourceInput
from shared.pipeline.compact import compact_page
from shared.pipeline.context import open_context

bp = df.Blueprint()


@bp.function_name(names.COMPACT_SOURCE)
@bp.activity_trigger(input_name="payload")
@guarded
async def compact_source_activity(payload: Payload) -> dict[str, Any]:
    request = CompactSourceInput.model_validate(payload)
    async with open_context() as ctx:
        page = await compact_page(ctx, request.source_id, request.keep, request.continuation, request.page_size)
        return page.model_dump(mode="json")

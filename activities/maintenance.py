"""Maintenance activities: compaction of old corpus versions, one page of a source's documents per call."""

from __future__ import annotations

import azure.durable_functions as df

from activities.contract import activity
from shared import contracts
from shared.models import CompactResult, CompactSourceInput
from shared.pipeline.compact import compact_page
from shared.pipeline.context import open_context

bp = df.Blueprint()


@activity(bp, contracts.COMPACT_SOURCE)
async def compact_source_activity(request: CompactSourceInput) -> CompactResult:
    async with open_context() as ctx:
        return await compact_page(ctx, request.source_id, request.keep, request.continuation, request.page_size)

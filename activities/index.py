"""The publish stage's activity: one bounded call of ``shared.index.sync`` for one source (counts in and out,
never chunks or vectors: those go from Blob to the index inside the activity)."""

from __future__ import annotations

import azure.durable_functions as df

from activities.contract import activity
from shared import contracts
from shared.index.sync import publish_stage
from shared.models import PublishInput, PublishResult
from shared.pipeline.context import open_context

bp = df.Blueprint()


@activity(bp, contracts.PUBLISH_INDEX, cancellable=True)
async def publish_index_activity(request: PublishInput) -> PublishResult:
    async with open_context() as ctx:
        return await publish_stage(ctx, request.source_id, cursor=request.cursor, dry_run=request.dry_run,
                                   run_id=request.run_id)

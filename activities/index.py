"""The publish stage's activity: one bounded call of ``shared.index.sync`` for one source (counts in and out,
never chunks or vectors: those go from Blob to the index inside the activity)."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.guard import Payload, guarded, unless_cancelled
from shared import names
from shared.index.sync import publish_stage
from shared.models import PublishInput
from shared.pipeline.context import open_context

bp = df.Blueprint()


@bp.function_name(names.PUBLISH_INDEX)
@bp.activity_trigger(input_name="payload")
@guarded
@unless_cancelled
async def publish_index_activity(payload: Payload) -> dict[str, Any]:
    request = PublishInput.model_validate(payload)
    async with open_context() as ctx:
        result = await publish_stage(ctx, request.source_id, cursor=request.cursor, dry_run=request.dry_run,
                                     run_id=request.run_id)
        return result.model_dump(mode="json")

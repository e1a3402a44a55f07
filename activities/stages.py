"""The stage activities: discover, prepare (fetch → extract → chunk), embed, commit. Inputs and outputs
are ids and counts; the data moves through Blob (see ``shared.pipeline.staging``)."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.guard import Payload, guarded, unless_cancelled
from shared import names
from shared.models import BatchRef, CommitInput, DiscoverInput
from shared.pipeline import commit, discover, embed, prepare
from shared.pipeline.context import open_context

bp = df.Blueprint()


@bp.function_name(names.DISCOVER)
@bp.activity_trigger(input_name="payload")
@guarded
@unless_cancelled
async def discover_activity(payload: Payload) -> dict[str, Any]:
    request = DiscoverInput.model_validate(payload)
    async with open_context() as ctx:
        return (await discover.discover(ctx, request)).model_dump(mode="json")


@bp.function_name(names.PREPARE)
@bp.activity_trigger(input_name="payload")
@guarded
@unless_cancelled
async def prepare_activity(payload: Payload) -> dict[str, Any]:
    batch = BatchRef.model_validate(payload)
    async with open_context() as ctx:
        return (await prepare.prepare(ctx, batch)).model_dump(mode="json")


@bp.function_name(names.EMBED)
@bp.activity_trigger(input_name="payload")
@guarded
@unless_cancelled
async def embed_activity(payload: Payload) -> dict[str, Any]:
    batch = BatchRef.model_validate(payload)
    async with open_context() as ctx:
        return (await embed.embed(ctx, batch)).model_dump(mode="json")


@bp.function_name(names.COMMIT)
@bp.activity_trigger(input_name="payload")
@guarded
@unless_cancelled
async def commit_activity(payload: Payload) -> dict[str, Any]:
    batch = CommitInput.model_validate(payload)
    async with open_context() as ctx:
        if batch.deletions:
            return (await commit.commit_deletions(ctx, batch)).model_dump(mode="json")
        return (await commit.commit(ctx, batch)).model_dump(mode="json")

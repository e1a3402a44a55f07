"""The stage activities: discover, prepare (fetch → extract → chunk), embed, commit. Inputs and outputs
are ids and counts; the data moves through Blob (see ``shared.pipeline.staging``)."""

from __future__ import annotations

import azure.durable_functions as df

from activities.contract import activity
from shared import contracts
from shared.models import BatchRef, CommitInput, DiscoverInput, DiscoverResult, PrepareResult, StageResult
from shared.pipeline import commit, discover, embed, prepare
from shared.pipeline.context import open_context

bp = df.Blueprint()


@activity(bp, contracts.DISCOVER, cancellable=True)
async def discover_activity(request: DiscoverInput) -> DiscoverResult:
    async with open_context() as ctx:
        return await discover.discover(ctx, request)


@activity(bp, contracts.PREPARE, cancellable=True)
async def prepare_activity(batch: BatchRef) -> PrepareResult:
    async with open_context() as ctx:
        return await prepare.prepare(ctx, batch)


@activity(bp, contracts.EMBED, cancellable=True)
async def embed_activity(batch: BatchRef) -> StageResult:
    async with open_context() as ctx:
        return await embed.embed(ctx, batch)


@activity(bp, contracts.COMMIT, cancellable=True)
async def commit_activity(batch: CommitInput) -> StageResult:
    async with open_context() as ctx:
        if batch.deletions:
            return await commit.commit_deletions(ctx, batch)
        return await commit.commit(ctx, batch)

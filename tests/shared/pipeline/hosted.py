"""Run one source through the real source orchestrator and the real activities on the local host — what
a run does for each of its sources — with the settings of a test's ``Context``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import azure.durable_functions as df
import azure.functions as func
import pytest

from activities import lifecycle, stages
from devhost.host import LocalHost
from orchestrators import source
from shared import names
from shared.models import RunOptions, SourceCounts, SourceResult, SourceTask
from shared.pipeline.context import Context
from shared.settings import Settings, get_settings

RunSource = Callable[..., Awaitable[SourceCounts]]


def create_app() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in (source.bp, lifecycle.bp, stages.bp):
        app.register_functions(blueprint)
    return app


def use_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Make ``settings`` what the activities load (``get_settings`` reads the environment once)."""
    for name in settings.model_fields_set:
        monkeypatch.setenv(f"HARVEST_{name.upper()}", str(getattr(settings, name)))
    get_settings.cache_clear()


@asynccontextmanager
async def source_runner(azurite: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunSource]:
    host: LocalHost | None = None

    async def run_source(ctx: Context, run_id: str, source_id: str = "notes", *, full_refresh: bool = False,
                         dry_run: bool = False, reembed: bool = False) -> SourceCounts:
        nonlocal host
        use_settings(monkeypatch, ctx.settings)
        if host is None:
            host = LocalHost(create_app(), connection_string=azurite, task_hub=f"P{uuid.uuid4().hex[:10]}",
                             port=0, fire_timers=False)
            await host.start()
        s = ctx.settings
        task = SourceTask(run_id=run_id, source_id=source_id, batch_size=s.batch_size,
                          max_parallel_batches=s.max_parallel_batches,
                          pages_per_execution=s.pages_per_execution, failure_threshold=s.failure_threshold,
                          options=RunOptions(full_refresh=full_refresh, dry_run=dry_run, reembed=reembed))
        instance = f"{run_id}:{source_id}:{uuid.uuid4().hex[:6]}"  # a test may repeat a run id
        client = df.DurableOrchestrationClient(host.client_binding_json())
        await client.start_new(names.SOURCE_ORCHESTRATOR, instance, task.model_dump(mode="json"))
        status = await host.wait_for(instance, 120)
        assert status["runtimeStatus"] == "Completed", status
        result = SourceResult.model_validate(status["output"])
        assert result.message is None, f"an activity failed: {result.message}"
        return result.counts

    try:
        yield run_source
    finally:
        if host is not None:
            await host.stop()
        get_settings.cache_clear()

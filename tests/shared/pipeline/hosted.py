"""Run one source through the real source orchestrator and the real activities on the local host — what
a run does for each of its sources — with the settings of a test's ``Context``.

A test may inject a fault between the source's last commit and its end (``before_finish``): that run goes
through an app whose ``finish_source`` activity awaits the fault, then calls the real activity."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest

from activities import index, lifecycle, stages
from activities.contract import activity
from devhost.host import LocalHost
from orchestrators import batches, source
from shared import contracts, names
from shared.models import (
    CheckpointInput,
    Done,
    FinishSourceInput,
    RunOptions,
    SourceCounts,
    SourceResult,
    SourceStart,
    SourceTask,
)
from shared.pipeline.context import Context
from shared.settings import Settings, get_settings
from tests.conftest import running_host

Fault = Callable[[], Awaitable[object]]


def create_app(before_finish: Fault | None = None) -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in (source.bp, batches.bp, stages.bp, index.bp):
        app.register_functions(blueprint)
    app.register_functions(lifecycle.bp if before_finish is None else _fault_before_finish(before_finish))
    return app


def _fault_before_finish(fault: Fault) -> df.Blueprint:
    """The lifecycle activities the source orchestrator calls, each calling the real one; ``finish_source``
    awaits ``fault`` first (the orchestrator calls it after the last page's commit and checkpoint)."""
    bp = df.Blueprint()

    @activity(bp, contracts.BEGIN_SOURCE, cancellable=True)
    async def begin_source(task: SourceTask) -> SourceStart:
        return await lifecycle.begin_source_activity(task)

    @activity(bp, contracts.CHECKPOINT, cancellable=True)
    async def checkpoint(request: CheckpointInput) -> Done:
        return await lifecycle.checkpoint_activity(request)

    @activity(bp, contracts.FINISH_SOURCE)
    async def finish_source(request: FinishSourceInput) -> Done:
        await fault()
        return await lifecycle.finish_source_activity(request)

    return bp


def use_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Make ``settings`` what the activities load (``get_settings`` reads the environment once)."""
    for name in settings.model_fields_set:
        monkeypatch.setenv(f"HARVEST_{name.upper()}", str(getattr(settings, name)))
    get_settings.cache_clear()


class RunSource:
    """``await run_source(ctx, run_id, source_id, ...)``: the source's counts (every activity succeeded);
    ``await run_source.result(ctx, run_id, source_id, ...)``: its whole ``SourceResult``, failed or not."""

    def __init__(self, azurite: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.azurite, self.monkeypatch = azurite, monkeypatch
        self.host: LocalHost | None = None
        self.hosts = contextlib.AsyncExitStack()  # stopped together at the end (a host closes the Azure clients)
        self.instances: list[str] = []  # the source orchestrations started, in order

    async def _host(self, app: df.DFApp) -> LocalHost:
        return await self.hosts.enter_async_context(running_host(app, self.azurite))

    async def result(self, ctx: Context, run_id: str, source_id: str = "notes", *, full_refresh: bool = False,
                     dry_run: bool = False, reembed: bool = False,
                     before_finish: Fault | None = None) -> SourceResult:
        use_settings(self.monkeypatch, ctx.settings)
        if before_finish is not None:
            host = await self._host(create_app(before_finish))
        else:
            self.host = self.host or await self._host(create_app())
            host = self.host
        s = ctx.settings
        task = SourceTask(run_id=run_id, source_id=source_id, batch_size=s.batch_size,
                          max_parallel_batches=s.max_parallel_batches,
                          pages_per_execution=s.pages_per_execution, failure_threshold=s.failure_threshold,
                          options=RunOptions(full_refresh=full_refresh, dry_run=dry_run, reembed=reembed))
        instance = f"{run_id}:{source_id}:{uuid.uuid4().hex[:6]}"  # a test may repeat a run id
        self.instances.append(instance)
        client = df.DurableOrchestrationClient(host.client_binding_json())
        await client.start_new(names.SOURCE_ORCHESTRATOR, instance, task.model_dump(mode="json"))
        status = await host.wait_for(instance, 120)
        assert status["runtimeStatus"] == "Completed", status
        return SourceResult.model_validate(status["output"])

    async def __call__(self, ctx: Context, run_id: str, source_id: str = "notes", **options: Any) -> SourceCounts:
        result = await self.result(ctx, run_id, source_id, **options)
        assert result.message is None, f"an activity failed: {result.message}"
        return result.counts


@contextlib.asynccontextmanager
async def source_runner(azurite: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunSource]:
    runner = RunSource(azurite, monkeypatch)
    try:
        async with runner.hosts:
            yield runner
    finally:
        get_settings.cache_clear()

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import azure.durable_functions as df
import pytest
import pytest_asyncio

from devhost.host import LocalHost
from shared import names

from ..conftest import running_host
from . import stub_app

RunFn = Callable[..., Any]


@pytest_asyncio.fixture(scope="module")
async def host(azurite: str) -> AsyncIterator[LocalHost]:
    """The real orchestrators and scripted activities on the local host (own task hub), one per module."""
    async with running_host(stub_app.create_app(), azurite, max_concurrent_activities=8) as local:
        yield local


@pytest.fixture
def script() -> stub_app.Script:
    stub_app.SCRIPT = stub_app.Script()
    return stub_app.SCRIPT


@pytest.fixture
def start_run(host: LocalHost) -> RunFn:
    """Run the run orchestrator to its end; returns its Durable status (output: the run summary)."""

    async def run(trigger: str = "http", *, timeout: float = 30, **options: Any) -> dict[str, Any]:
        run_id = f"run-{uuid.uuid4().hex[:8]}"
        body = {"run_id": run_id, "trigger": trigger, "options": options, "requested_at": "2026-06-01T00:00:00Z"}
        client = df.DurableOrchestrationClient(host.client_binding_json())
        await client.start_new(names.RUN_ORCHESTRATOR, run_id, body)
        return await host.wait_for(run_id, timeout)

    return run

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from devhost.host import LocalHost

from . import sample_app


@pytest_asyncio.fixture(scope="module")
async def host(azurite: str) -> AsyncIterator[LocalHost]:
    """One LocalHost (random port, own task hub) running the sample app, shared by a module."""
    local = LocalHost(sample_app.create_app(), connection_string=azurite, task_hub=f"M{uuid.uuid4().hex[:10]}",
                      port=0, fire_timers=False, max_concurrent_activities=8)
    await local.start()
    yield local
    await local.stop()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def side_dir(tmp_path: Path) -> str:
    return str(tmp_path)

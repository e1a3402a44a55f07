from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from devhost.host import LocalHost

from ..conftest import running_host
from . import sample_app


@pytest_asyncio.fixture(scope="module")
async def host(azurite: str) -> AsyncIterator[LocalHost]:
    """One LocalHost (random port, own task hub) running the sample app, shared by a module."""
    async with running_host(sample_app.create_app(), azurite, max_concurrent_activities=8) as local:
        yield local


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def side_dir(tmp_path: Path) -> str:
    return str(tmp_path)

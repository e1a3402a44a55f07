from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared.storage.blobs import BlobStore


@pytest.fixture
async def store(azurite: str) -> AsyncIterator[BlobStore]:
    async with BlobStore.connect(container=f"t-{uuid.uuid4().hex[:12]}", connection_string=azurite) as s:
        await s.ensure_container()
        yield s

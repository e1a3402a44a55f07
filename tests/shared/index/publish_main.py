"""``python -m tests.shared.index.publish_main CONN CONTAINER KIND WHERE [SOURCE]``: one publish pass of a
source into a LanceDB directory (KIND ``lancedb``) or an Azure AI Search endpoint (``azure-search``, the
stand-in's admin key), in a process a test may kill (``HARVEST_CRASHPOINT``)."""

from __future__ import annotations

import asyncio
import sys

from shared.embedding.hashing import HashingEmbedder
from shared.index.azure_search import AzureSearchTarget
from shared.index.base import IndexTarget
from shared.index.lancedb_target import LanceDBTarget
from shared.index.sync import publish
from shared.storage.blobs import BlobStore


async def main(conn: str, container: str, kind: str, where: str, source_id: str) -> None:
    target: IndexTarget = (LanceDBTarget(where, "chunks") if kind == "lancedb"
                           else AzureSearchTarget(where, "chunks", api_key="test-admin-key"))
    embedder = HashingEmbedder()
    async with BlobStore.connect(container=container, connection_string=conn) as store:
        cursor = None
        while True:
            part = await publish(store, target, source_id, model_id=embedder.model_id, dim=embedder.dim, cursor=cursor)
            if part.cursor is None:
                break
            cursor = part.cursor
    await target.close()
    print("done")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5], sys.argv[5] if len(sys.argv) > 5 else "notes"))

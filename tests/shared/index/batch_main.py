"""``python -m tests.shared.index.batch_main CONN CONTAINER KIND WHERE DOCS BATCH``: commit ``DOCS`` documents of
source ``notes`` (``doc-00``…, two paragraphs each) in batches of ``BATCH``, each batch publishing what it
committed (``shared.index.batch``), into a LanceDB directory (KIND ``lancedb``) or an Azure AI Search endpoint
(``azure-search``, the stand-in's admin key) — in a process a test may kill (``HARVEST_CRASHPOINT``)."""

from __future__ import annotations

import asyncio
import sys
import tempfile

from shared.index.azure_search import AzureSearchTarget
from shared.index.base import IndexTarget
from shared.index.batch import publish_batch
from shared.index.lancedb_target import LanceDBTarget
from shared.pipeline.context import open_context
from shared.settings import Settings
from tests.shared.index.corpus import EMBEDDER, Corpus, paragraphs


async def main(conn: str, container: str, kind: str, where: str, docs: int, size: int) -> None:
    target: IndexTarget = (LanceDBTarget(where, "chunks") if kind == "lancedb"
                           else AzureSearchTarget(where, "chunks", api_key="test-admin-key"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(storage_connection=conn, container=container, embedder="hashing",
                            manifest=f"{tmp}/sources.yaml")
        async with open_context(settings) as ctx:
            corpus = Corpus(ctx)
            for start in range(0, docs, size):
                committed = [await corpus.put(f"doc-{d:02d}", paragraphs(d, 2)) for d in range(start, start + size)]
                await publish_batch(ctx.store, target, "notes", committed, model_id=EMBEDDER.model_id,
                                    dim=EMBEDDER.dim)
    await target.close()
    print("done")


if __name__ == "__main__":
    conn, container, kind, where, docs, size = sys.argv[1:7]
    asyncio.run(main(conn, container, kind, where, int(docs), int(size)))

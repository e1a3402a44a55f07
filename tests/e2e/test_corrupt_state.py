"""Issue 12 items 4 and 5 through the CLI: an unreadable blob is skipped and named by `harvest export`
and `harvest query` (exit 0, full export of the rest), and `harvest verify` reports it."""

from __future__ import annotations

import asyncio
import json

from shared.storage import layout
from shared.storage.blobs import BlobStore
from tests.e2e.conftest import Workspace

PARA = "Harbour seals haul out on sandbanks at low tide and slip back into the channel as the water rises. "


def setup(workspace: Workspace, n: int = 4) -> None:
    workspace.env["HARVEST_EMBEDDER"] = "hashing"
    for i in range(n):
        (workspace.docs / f"doc-{i}.md").write_text(f"# Doc {i}\n\n{PARA * 3} Number {i}.\n")
    done = workspace.harvest("run", "--json")
    assert done.returncode == 0, done.stderr


async def _current(store: BlobStore, doc_id: str) -> str:
    value, _ = await store.read_json(layout.doc_record_blob("notes", doc_id))
    return str(value["current"])


def store_call(workspace: Workspace, fn):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with BlobStore.connect(container=workspace.env["HARVEST_CONTAINER"],
                                     connection_string=workspace.env["AzureWebJobsStorage"]) as store:
            return await fn(store)
    return asyncio.run(go())


def test_export_and_query_skip_and_name_unreadable_blobs(workspace: Workspace) -> None:
    setup(workspace)
    version = store_call(workspace, lambda s: _current(s, "doc-1.md"))
    record = layout.doc_record_blob("notes", "doc-2.md")
    store_call(workspace, lambda s: s.write_bytes(version, b"{broken\n"))
    store_call(workspace, lambda s: s.write_bytes(record, b"\xff\xfe garbage"))
    exported = workspace.harvest("export")
    assert exported.returncode == 0, exported.stderr
    docs = {json.loads(line)["doc_id"] for line in exported.stdout.splitlines()}
    assert docs == {"doc-0.md", "doc-3.md"}
    assert "skipped 2 unreadable blob(s)" in exported.stderr
    assert version in exported.stderr and record in exported.stderr and "Traceback" not in exported.stderr
    queried = workspace.harvest("query", "harbour seals", "--json")
    assert queried.returncode == 0 and json.loads(queried.stdout)
    assert version in queried.stderr and record in queried.stderr
    empty = workspace.harvest("query", "  ")
    assert empty.returncode == 2 and "query text is empty" in empty.stderr

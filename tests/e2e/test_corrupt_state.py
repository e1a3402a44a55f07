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
        async with workspace.store() as store:
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
    workspace.env["HARVEST_INDEX"] = "none"  # the corpus scan (the search index does not read the corpus)
    queried = workspace.harvest("query", "harbour seals", "--json")
    assert queried.returncode == 0 and json.loads(queried.stdout)
    assert version in queried.stderr and record in queried.stderr
    del workspace.env["HARVEST_INDEX"]
    drift = workspace.harvest("index", "verify")  # the index still holds what the corpus can no longer read
    assert drift.returncode == 1 and "Traceback" not in drift.stderr
    empty = workspace.harvest("query", "  ")
    assert empty.returncode == 2 and "query text is empty" in empty.stderr


STABLE = ("chunk_id", "doc_id", "source_id", "url", "title", "ordinal", "text", "chunk_hash", "content_hash",
          "vector")


def stable_export(workspace: Workspace) -> list[dict]:
    done = workspace.harvest("export")
    assert done.returncode == 0, done.stderr
    return [{k: json.loads(line)[k] for k in STABLE} for line in done.stdout.splitlines()]


def test_verify_reports_repair_and_a_run_restore_the_export(workspace: Workspace) -> None:
    setup(workspace, 5)
    clean = stable_export(workspace)
    ok = workspace.harvest("verify")
    assert ok.returncode == 0 and "agrees with its records" in ok.stdout
    gone = store_call(workspace, lambda s: _current(s, "doc-0.md"))
    bad = store_call(workspace, lambda s: _current(s, "doc-1.md"))
    lost = layout.doc_record_blob("notes", "doc-2.md")
    store_call(workspace, lambda s: s.delete(gone))
    store_call(workspace, lambda s: s.write_bytes(bad, b"garbage"))
    store_call(workspace, lambda s: s.delete(lost))
    found = workspace.harvest("verify", "--json")
    assert found.returncode == 1, found.stderr
    problems = json.loads(found.stdout)["problems"]
    assert sorted((p["kind"], p["blob"]) for p in problems) == sorted(
        [("version_missing", gone), ("version_unreadable", bad), ("record_missing", lost)])
    repaired = workspace.harvest("verify", "--repair")
    assert repaired.returncode == 0 and "harvest run --source notes" in repaired.stderr, repaired.stderr
    assert workspace.harvest("run", "--json").returncode == 0
    assert workspace.harvest("verify").returncode == 0
    assert stable_export(workspace) == clean


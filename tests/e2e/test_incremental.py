"""Issue #4's acceptance run on a 100-document folder: re-runs do only the new work, through the CLI."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from tests.e2e.conftest import Workspace

pytestmark = pytest.mark.slow
WORDS = ["harbour", "tide", "lantern", "pilot", "buoy", "channel", "keeper", "storm", "ledger", "compass",
         "anchor", "rope", "current", "reef", "signal", "beacon", "chart", "sounding", "hull", "mast",
         "gale", "cargo", "quay", "berth"]


def paragraph(rnd: random.Random, n: int = 60) -> str:
    return " ".join(rnd.choice(WORDS) for _ in range(n)).capitalize() + "."


def run(ws: Workspace, *args: str) -> dict:
    done = ws.harvest("run", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["sources"]["notes"]["counts"]


async def listing(ws: Workspace) -> dict[str, str]:
    async with ws.store() as store:
        return {b.name: b.etag async for b in store.container.list_blobs()}


def test_hundred_documents_incremental(workspace: Workspace) -> None:
    ws = workspace
    ws.env["HARVEST_EMBEDDER"] = "hashing"
    rnd = random.Random(7)
    for i in range(100):
        paras = "\n\n".join(paragraph(rnd) for _ in range(5))
        (ws.docs / f"doc-{i:03d}.md").write_text(f"# Document {i}\n\n{paras}\n")

    first = run(ws)
    assert (first["discovered"], first["added"], first["failed"]) == (100, 100, 0)

    second = run(ws)
    assert (second["unchanged"], second["added"], second["updated"], second["chunks_embedded"]) == (100, 0, 0, 0)

    path = ws.docs / "doc-042.md"
    parts = path.read_text().split("\n\n")
    parts[3] = paragraph(random.Random(99))
    path.write_text("\n\n".join(parts))
    edited = run(ws)
    assert (edited["updated"], edited["unchanged"], edited["added"]) == (1, 99, 0)
    assert 1 <= edited["chunks_embedded"] <= 2 and edited["chunks_reused"] >= 1

    (ws.docs / "doc-007.md").unlink()
    deleted = run(ws)
    assert (deleted["deleted"], deleted["unchanged"], deleted["chunks_embedded"]) == (1, 99, 0)

    (ws.docs / "doc-010.md").unlink()
    (ws.docs / "doc-011.md").write_text("# Document 11\n\nRewritten completely.\n")
    (ws.docs / "new.md").write_text("# New\n\nA new document about quays and berths.\n")
    before = asyncio.run(listing(ws))
    done = ws.harvest("run", "--json", "--dry-run")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    dry = summary["sources"]["notes"]["counts"]
    assert (dry["added"], dry["updated"], dry["deleted"], dry["chunks_embedded"]) == (1, 1, 1, 0)
    after = asyncio.run(listing(ws))
    run_id = summary["run_id"]

    def is_report(name: str) -> bool:  # the dry run's own run record, its index entry and report
        return name.startswith(f"runs/{run_id}/") or (name.startswith("runs-index/") and run_id in name)

    assert {k: v for k, v in after.items() if not is_report(k)} == before

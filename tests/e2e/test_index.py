"""Issue 22's "done when", end to end through the `harvest` CLI: after a run, after 3 edits and 2 deletions,
and after an unchanged re-run (which sends nothing), the search index's chunk ids equal `harvest export`'s
— in LanceDB (the local default) and in Azure AI Search (the stand-in, with a tenth of the keys failing
once in a 207); then `harvest query` answers from the index and `harvest index verify` finds no drift."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.index.keys import decode_key
from tests.e2e.conftest import Workspace
from tests.shared.index.fake_search import FakeSearch, FakeSearchServer

WORDS = ["bees", "honey", "glacier", "river", "clock", "piano", "tea", "bread", "yeast", "ice", "mountain", "coffee"]


def write_docs(ws: Workspace, n: int = 8, version: int = 0) -> None:
    for d in range(n):
        paras = [" ".join(WORDS[(d * 5 + p * 3 + w + version) % len(WORDS)] for w in range(150)) for p in range(3)]
        (ws.docs / f"doc{d}.md").write_text(f"# Document {d}\n\n" + "\n\n".join(paras) + f"\n\nv{version}\n")


def exported(ws: Workspace) -> set[str]:
    out = ws.harvest("export")
    assert out.returncode == 0, out.stderr
    return {json.loads(line)["chunk_id"] for line in out.stdout.splitlines()}


def run(ws: Workspace) -> dict[str, int]:
    out = ws.harvest("run", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    totals: dict[str, int] = json.loads(out.stdout)["totals"]
    return totals


@pytest.fixture(params=["lancedb", "azure-search"])
def indexed_ws(request: pytest.FixtureRequest, workspace: Workspace) -> Iterator[tuple[Workspace, object]]:
    workspace.env["HARVEST_EMBEDDER"] = "hashing"  # the index's behaviour does not depend on the model
    if request.param == "lancedb":
        yield workspace, Path(workspace.root) / ".harvest" / "index"
        return
    fake = FakeSearch()
    with FakeSearchServer(fake) as url:
        workspace.env.update(HARVEST_INDEX="azure-search", HARVEST_SEARCH_ENDPOINT=url,
                             HARVEST_SEARCH_API_KEY_SETTING="SEARCH_ADMIN_KEY", SEARCH_ADMIN_KEY=fake.api_key or "")
        yield workspace, fake


def in_index(where: object) -> set[str]:
    if isinstance(where, FakeSearch):
        index = where.aliases["chunks"]
        return {decode_key(k) for k in where.docs[index]}
    import lancedb

    return set(lancedb.connect(str(where)).open_table("chunks").to_arrow().column("chunk_id").to_pylist())


def test_the_index_equals_the_export_after_runs_edits_deletions_and_a_rerun(
        indexed_ws: tuple[Workspace, object]) -> None:
    ws, where = indexed_ws
    write_docs(ws)
    if isinstance(where, FakeSearch):
        where.fail_keys = set()  # set below, once keys are known
    first = run(ws)
    live = exported(ws)
    assert first["index_upserted"] == len(live) and first["index_deleted"] == 0
    assert in_index(where) == live

    for d in (0, 1, 2):  # 3 edits
        (ws.docs / f"doc{d}.md").write_text(f"# Document {d}\n\nshort now: bees and honey {d}\n")
    for d in (6, 7):  # 2 deletions
        (ws.docs / f"doc{d}.md").unlink()
    if isinstance(where, FakeSearch):  # a tenth of the keys fail once (503 in a 207): only they are sent again
        from shared.index.keys import encode_key

        where.fail_keys = {encode_key(c) for c in sorted(live)[::10]}
    second = run(ws)
    after = exported(ws)
    assert in_index(where) == after
    assert second["index_deleted"] == len(live - after) and second["index_upserted"] == len(after - live)

    requests = len(where.requests) if isinstance(where, FakeSearch) else 0
    third = run(ws)
    assert (third["index_upserted"], third["index_deleted"]) == (0, 0)
    if isinstance(where, FakeSearch):
        assert [r for r in where.requests[requests:] if "/docs" in r[1]] == []  # an unchanged re-run sends 0
    assert in_index(where) == exported(ws)

    verify = ws.harvest("index", "verify", "--json")
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["drift"]["drift"] == 0
    query = ws.harvest("query", "bees honey", "-k", "3", "--json")
    assert query.returncode == 0, query.stderr
    hits = json.loads(query.stdout)
    assert len(hits) == 3 and {h["chunk_id"] for h in hits} <= after


def test_retiring_a_source_takes_its_chunks_out_of_the_index(workspace: Workspace) -> None:
    workspace.env["HARVEST_EMBEDDER"] = "hashing"
    write_docs(workspace, 3)
    assert run(workspace)["index_upserted"] > 0
    workspace.manifest("sources: []\n")
    out = workspace.harvest("sources", "retire", "notes", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["index_deleted"] > 0
    assert in_index(workspace.root / ".harvest" / "index") == set() == exported(workspace)


def test_verify_exits_1_on_drift(workspace: Workspace) -> None:
    workspace.env["HARVEST_EMBEDDER"] = "hashing"
    write_docs(workspace, 2)
    run(workspace)
    import lancedb

    lancedb.connect(str(workspace.root / ".harvest" / "index")).open_table("chunks").delete("ordinal = 0")
    out = workspace.harvest("index", "verify")
    assert out.returncode == 1 and "drift 2 (2 missing, 0 extra)" in out.stdout
    fixed = workspace.harvest("index", "verify", "--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr

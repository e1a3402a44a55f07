"""Crash safety: SIGKILL `harvest run` at every point of the write protocol, `harvest resume`, and compare
the corpus with that of an uninterrupted run of the same input (hashing embedder: the model is not the
point here, and the real one would make 12+ runs too slow for CI)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import uuid

import pytest

from shared.faults import POINTS
from tests.conftest import wait_until
from tests.e2e.conftest import HARVEST, Workspace

pytestmark = pytest.mark.slow

# (point, hit): the hit numbers put each kill in the middle of the run (2 sources, 14 documents,
# batches of 1, pages of 8 → the first source has two pages, so a checkpoint moves mid-run).
KILLS = [
    ("run.opened", 1), ("fetch.staged", 3), ("chunk.staged", 5), ("embed.computed", 2), ("embed.staged", 7),
    ("commit.version", 4), ("commit.record", 9), ("checkpoint.before", 1), ("checkpoint.after", 1),
    ("source.finished", 1), ("run.closing", 1), ("run.closed", 1), ("index.intent", 2), ("index.sent", 4),
    ("index.batch_intent", 2), ("index.batch_sent", 4),
]
# The end-of-source pass reaches its points only when it has work: the runs killed there publish only at the end
# (each batch's commit publishes its documents otherwise, and the pass finds them in line).
END_OF_SOURCE_ONLY = {"index.intent", "index.sent"}
VOLATILE = {"run_id", "created_at"}


def test_every_protocol_point_is_covered() -> None:
    assert {p for p, _ in KILLS} == set(POINTS)


def make_docs(ws: Workspace) -> None:
    (ws.root / "more").mkdir(exist_ok=True)
    for i in range(10):
        body = "\n\n".join(f"Log {i}, part {j}: the pilot boat met the freighter at buoy {j}." for j in range(6))
        (ws.docs / f"log-{i:02d}.md").write_text(f"# Log {i}\n\n{body}\n")
    for i in range(4):
        (ws.root / "more" / f"memo-{i}.txt").write_text(f"Memo {i}. The lock keeper opened gate {i} at dawn.\n")
    ws.manifest("sources:\n  - {id: notes, kind: folder, path: docs}\n  - {id: more, kind: folder, path: more}\n")


def fresh_state(ws: Workspace) -> None:
    ws.env["HARVEST_CONTAINER"] = f"c-{uuid.uuid4().hex[:10]}"
    ws.env["HARVEST_TASK_HUB"] = f"H{uuid.uuid4().hex[:10]}"
    ws.env.pop("HARVEST_CRASHPOINT", None)
    ws.env.pop("HARVEST_CRASHPOINT_HIT", None)
    ws.env.pop("HARVEST_INDEX_IN_BATCHES", None)


def corpus(ws: Workspace) -> list[dict]:
    done = ws.harvest("export")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in rows),
                  key=lambda r: (r["source_id"], r["doc_id"], r["ordinal"]))


@pytest.fixture
def crash_ws(workspace: Workspace) -> Workspace:
    workspace.env.update(HARVEST_EMBEDDER="hashing", HARVEST_BATCH_SIZE="1", HARVEST_CHUNK_TOKENS="64",
                         HARVEST_CHUNK_OVERLAP="8")
    make_docs(workspace)
    return workspace


def resume_and_check(ws: Workspace, baseline: list[dict], label: str) -> None:
    ws.env.pop("HARVEST_CRASHPOINT", None)
    resumed = ws.harvest("resume", "--json")
    assert resumed.returncode == 0, f"{label}: {resumed.stderr}"
    summaries = json.loads(resumed.stdout)
    if summaries:  # a kill after the run finished leaves nothing to resume
        assert [s["status"] for s in summaries] == ["completed"], label
        totals = summaries[0]["totals"]
        assert totals["failed"] == 0 and totals["discovered"] == 14, (label, totals)
    assert corpus(ws) == baseline, label
    assert indexed(ws) == {r["chunk_id"] for r in baseline}, f"{label}: the search index is not the export"


def indexed(ws: Workspace) -> set[str]:
    """The chunk ids in the LanceDB index the runs publish to (issue 22)."""
    import lancedb

    table = lancedb.connect(str(ws.root / ".harvest" / "index")).open_table("chunks")
    return set(table.to_arrow().column("chunk_id").to_pylist())


def test_sigkill_at_each_point_then_resume_gives_the_same_corpus(crash_ws: Workspace) -> None:
    ws = crash_ws
    fresh_state(ws)
    first = ws.harvest("run", "--json")
    assert first.returncode == 0, first.stderr
    baseline = corpus(ws)
    assert len({r["doc_id"] for r in baseline}) == 14 and len(baseline) > 14

    for point, hit in KILLS:
        fresh_state(ws)
        ws.env.update(HARVEST_CRASHPOINT=point, HARVEST_CRASHPOINT_HIT=str(hit))
        if point in END_OF_SOURCE_ONLY:
            ws.env["HARVEST_INDEX_IN_BATCHES"] = "false"
        killed = ws.harvest("run", "--json")
        assert killed.returncode == -signal.SIGKILL, f"{point}: not killed ({killed.returncode}) {killed.stderr}"
        resume_and_check(ws, baseline, point)


def blob_count(ws: Workspace) -> int:
    """How many blobs the run has written so far (0 before it created its container)."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import ContainerClient

    with ContainerClient.from_connection_string(ws.env["AzureWebJobsStorage"], ws.env["HARVEST_CONTAINER"]) as c:
        try:
            return sum(1 for _ in c.list_blobs())
        except ResourceNotFoundError:
            return 0


def test_sigkill_at_random_moments_then_resume(crash_ws: Workspace) -> None:
    """Kill -9 between the instrumented points too: once the run has written a number of blobs drawn at random
    (seeded) from what a whole run writes — a moment of the run's own progress, whatever the machine's speed
    (a random delay killed the process before the run began on a busy machine, or after it had ended)."""
    ws = crash_ws
    fresh_state(ws)
    assert ws.harvest("run").returncode == 0
    baseline, written = corpus(ws), blob_count(ws)
    rnd = random.Random(20261123)
    for attempt, moment in enumerate(sorted(rnd.sample(range(written // 10, written * 9 // 10), 3))):
        fresh_state(ws)
        kill_when_written(ws, moment)
        resume_and_check(ws, baseline, f"kill after {moment} of {written} blobs (attempt {attempt})")


def kill_when_written(ws: Workspace, blobs: int) -> None:
    """``harvest run``, killed -9 as soon as it has written ``blobs`` blobs."""
    proc = subprocess.Popen([HARVEST, "run", "--json"], env=ws.env, cwd=ws.root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (proc.poll(), blob_count(ws)), lambda s: s[0] is not None or s[1] >= blobs, 120,
                   f"{blobs} blobs written", 0.05)
        assert proc.poll() is None, f"the run ended before it had written {blobs} blobs"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_sigkill_mid_embed_with_the_real_model_then_resume(workspace: Workspace) -> None:
    """The same guarantee with the e5 model, whose embed activities are long: kill while the second batch is
    being embedded (vectors computed, not yet staged), resume, and get the uninterrupted run's corpus."""
    from tests.e2e.docs_text import write_docs

    ws = workspace
    ws.env.update(HARVEST_EMBEDDER="e5-small", HARVEST_BATCH_SIZE="2")
    write_docs(ws.docs)
    fresh_state(ws)
    first = ws.harvest("run", "--json")
    assert first.returncode == 0, first.stderr
    baseline = corpus(ws)
    assert baseline and {r["model"] for r in baseline} == {baseline[0]["model"]}

    fresh_state(ws)
    ws.env.update(HARVEST_CRASHPOINT="embed.computed", HARVEST_CRASHPOINT_HIT="2")
    killed = ws.harvest("run", "--json")
    assert killed.returncode == -signal.SIGKILL, f"not killed ({killed.returncode}) {killed.stderr}"
    ws.env.pop("HARVEST_CRASHPOINT", None)
    resumed = ws.harvest("resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert [s["status"] for s in json.loads(resumed.stdout)] == ["completed"]
    assert corpus(ws) == baseline


def test_sigkill_during_a_manifest_run_then_a_plain_resume_finishes_it_as_started(crash_ws: Workspace) -> None:
    """Issue 25 item 3: `harvest run --manifest m.yaml`, kill -9, plain `harvest resume` (HARVEST_MANIFEST names
    another manifest) ended `failed` ("Activity function 'prepare' failed: KeyError: 'gen'") with 95 of 300
    documents. The run's sources travel with it: the resume completes with the uninterrupted run's corpus."""
    ws = crash_ws
    gen = ws.root / "gen"
    gen.mkdir()
    for i in range(12):
        (gen / f"g-{i:02d}.md").write_text(f"# Generated {i}\n\nThe tug pushed barge {i} past the breakwater.\n")
    (ws.root / "gen.yaml").write_text("sources:\n  - {id: gen, kind: folder, path: gen}\n")
    fresh_state(ws)
    first = ws.harvest("run", "--manifest", "gen.yaml", "--json")
    assert first.returncode == 0, first.stderr
    baseline = corpus(ws)
    assert {r["source_id"] for r in baseline} == {"gen"} and len({r["doc_id"] for r in baseline}) == 12

    fresh_state(ws)
    ws.env.update(HARVEST_CRASHPOINT="commit.version", HARVEST_CRASHPOINT_HIT="4")
    killed = ws.harvest("run", "--manifest", "gen.yaml", "--json")
    assert killed.returncode == -signal.SIGKILL, f"not killed ({killed.returncode}) {killed.stderr}"
    ws.env.pop("HARVEST_CRASHPOINT")
    resumed = ws.harvest("resume", "--json")  # HARVEST_MANIFEST: the workspace's sources.yaml (notes, more)
    assert resumed.returncode == 0, resumed.stderr
    summaries = json.loads(resumed.stdout)
    assert [s["status"] for s in summaries] == ["completed"], summaries
    assert list(summaries[0]["sources"]) == ["gen"] and summaries[0]["totals"]["failed"] == 0
    assert corpus(ws) == baseline

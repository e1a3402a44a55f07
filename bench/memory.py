"""What grows with documents processed: one ingest in this process (the local host, the real app, a private
Azurite), with ``tracemalloc`` snapshots while it runs; prints the Python allocations that grew most between
an early snapshot and the last one, and RSS over time. A diagnosis tool, not a suite of ``make bench``:

    .venv/bin/python -m bench.memory --docs 3000 [--top 15] [--json out.json] [--no-trace]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

from bench import corpus
from bench.harness import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def growers(early: tracemalloc.Snapshot, late: tracemalloc.Snapshot, top: int) -> list[dict[str, Any]]:
    keep = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    stats = late.filter_traces(keep).compare_to(early.filter_traces(keep), "traceback")
    out = []
    for stat in stats[:top]:
        frames = [f"{f.filename.replace(str(REPO_ROOT) + '/', '')}:{f.lineno}" for f in stat.traceback[-6:]]
        out.append({"size_diff_kib": round(stat.size_diff / 1024, 1), "count_diff": stat.count_diff,
                    "size_kib": round(stat.size / 1024, 1), "where": frames})
    return out


async def probe(docs: int, top: int, every: float, trace: bool = True) -> dict[str, Any]:
    from devhost.azurite import azurite_connection_string, start_azurite

    work = Path(tempfile.mkdtemp(prefix="harvest-memory-"))
    root = work / "corpus"
    corpus.write_corpus(root, docs)
    (work / "sources.yaml").write_text(f"sources:\n  - {{id: mem, kind: folder, path: '{root / 'docs'}'}}\n")
    port = free_port()
    azurite = start_azurite(port=port, location=work / "azurite", repo_root=REPO_ROOT, in_memory=True)
    conn = azurite_connection_string(port)
    os.environ.update({"AzureWebJobsStorage": conn, "HARVEST_STORAGE_CONNECTION": conn,
                       "HARVEST_EMBEDDER": "hashing", "HARVEST_CONTAINER": f"mem-{uuid.uuid4().hex[:8]}",
                       "HARVEST_MANIFEST": str(work / "sources.yaml"), "HARVEST_LOG_LEVEL": "WARNING"})
    import azure.durable_functions as df

    from devhost import lock
    from devhost.host import LocalHost

    lock.LEASE_SECONDS = 60  # tracing slows the host down; a snapshot pauses it for seconds
    from shared import names

    host = LocalHost(REPO_ROOT / "function_app.py", connection_string=conn, task_hub=f"M{uuid.uuid4().hex[:8]}",
                     port=free_port(), fire_timers=False)
    samples: list[dict[str, Any]] = []
    snapshots: list[tracemalloc.Snapshot] = []
    try:
        await host.start()
        if trace:
            tracemalloc.start(6)
        run_id = f"run-{uuid.uuid4().hex[:8]}"
        client = df.DurableOrchestrationClient(host.client_binding_json())
        body = {"run_id": run_id, "trigger": "cli", "options": {}, "requested_at": "2026-06-01T00:00:00Z"}
        started = time.perf_counter()
        await client.start_new(names.RUN_ORCHESTRATOR, run_id, body)
        while True:
            await asyncio.sleep(every)
            state = await host.get_status(run_id)
            current, _ = tracemalloc.get_traced_memory()
            done = ((state or {}).get("customStatus") or {}).get("progress", {})
            samples.append({"t": round(time.perf_counter() - started, 1), "rss_mib": round(rss_mib(), 1),
                            "traced_mib": round(current / 2**20, 1), "progress": done})
            ended = bool(state and state["runtimeStatus"] in ("Completed", "Failed", "Terminated"))
            if trace and (len(samples) == 3 or ended):  # two snapshots only: taking one pauses the host for seconds
                snapshots.append(tracemalloc.take_snapshot())
            if ended:
                break
        return {"docs": docs, "samples": samples,
                "growers": growers(snapshots[0], snapshots[-1], top) if trace else []}
    finally:
        tracemalloc.stop()
        await host.stop()
        azurite.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between snapshots")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--no-trace", action="store_true", help="RSS only (tracing itself costs ~3x memory)")
    args = parser.parse_args()
    result = asyncio.run(probe(args.docs, args.top, args.every, trace=not args.no_trace))
    for s in result["samples"]:
        print(f"t={s['t']:>7}s rss={s['rss_mib']:>7} MiB traced={s['traced_mib']:>6} MiB {s['progress']}")
    for g in result["growers"]:
        print(f"+{g['size_diff_kib']:>9} KiB ({g['count_diff']:+} blocks)  " + " <- ".join(reversed(g["where"])))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""``python -m bench.episodes [--sources 3] [--docs 120] [--batch-size 10] [--parallel 4]``: issue 21's probe.

Several folder sources ingested through ``harvest serve`` on the strict local host
(``HARVEST_DEVHOST_DURABLE_CHECKS=error``: an orchestrator episode that waits on a task the Durable extension
would not have started fails the orchestration), then, from the task hub's histories: how many orchestrator
episodes ran (every one checked), and how much really ran at once — the most ``prepare`` activities in flight
in each source and the most sources with a ``prepare`` in flight. One JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import corpus
from bench.harness import REPO_ROOT, Host, Loop, Storage
from bench.history import activity_spans, read_run_history
from devhost import history as h

Span = tuple[datetime, datetime]


def peak(spans: Iterable[Span]) -> int:
    """The most spans open at once (one that ends when another starts does not overlap it)."""
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], e[1]))
    now = best = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def flight(history: dict[str, list[dict[str, Any]]], activity: str = "prepare") -> dict[str, Any]:
    """Episodes, and ``activity`` calls in flight per source and across sources, from a run's histories
    (instance ids ``run``, ``run:source``, ``run:source:p<page>.<lane>``)."""
    episodes = sum(ev["EventType"] == h.ORCHESTRATOR_STARTED for rounds in history.values() for line in rounds
                   for ev in line["events"])
    spans: dict[str, list[Span]] = {}
    for instance, name, start, end in activity_spans(history):
        if name == activity:
            spans.setdefault(instance.split(":")[1] if ":" in instance else "", []).append((start, end))
    per_source = {s: peak(v) for s, v in sorted(spans.items())}
    extents = [(min(a for a, _ in v), max(b for _, b in v)) for v in spans.values()]
    return {"instances": len(history), "episodes": episodes, f"{activity}_calls": sum(map(len, spans.values())),
            f"{activity}_in_flight_peak_per_source": per_source, "sources_in_flight_peak": peak(extents)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--docs", type=int, default=120, help="documents per source")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=4, help="HARVEST_MAX_PARALLEL_BATCHES")
    args = parser.parse_args(argv)
    if min(args.sources, args.docs, args.batch_size, args.parallel) < 1:
        print("error: --sources, --docs, --batch-size and --parallel must be at least 1", file=sys.stderr)
        return 2
    work = REPO_ROOT / ".harvest" / "bench" / "episodes"
    work.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(args.sources):
        root = work / f"s{i}"
        corpus.write_corpus(root, args.docs)
        entries.append(f"  - {{id: src{i}, kind: folder, path: '{Path(root) / 'docs'}'}}")
    manifest = work / "sources.yaml"
    manifest.write_text("sources:\n" + "\n".join(entries) + "\n")
    loop = Loop()
    storage = Storage(loop, work)
    host = Host(storage, work, manifest, "hashing", {
        "HARVEST_BATCH_SIZE": str(args.batch_size), "HARVEST_MAX_PARALLEL_BATCHES": str(args.parallel),
        "HARVEST_DEVHOST_DURABLE_CHECKS": "error"})
    try:
        host.start()
        outcome = host.run()
        history = loop.call(read_run_history(storage.durable.direct_connection_string, host.durable_container,
                                             outcome.run_id))
    finally:
        host.stop()
        storage.close()
    print(json.dumps({"run_id": outcome.run_id, "status": outcome.summary.get("status"), **flight(history)},
                     indent=1))
    return 0 if outcome.summary.get("status") == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())

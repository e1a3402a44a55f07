"""``python -m bench.timeline --docs N [--parallel K] [--kind folder|rss] [--delay S] [--rerun] [--env K=V ...]``:
one hashing ingest through the bench harness (a fresh host and in-memory Azurite), then what each activity
took, from the task hub's history: every activity's calls and seconds (scheduled → completed), when the
publish activity started and how long it took, the history events per document, wall time, the host's CPU
and peak RSS. ``--rerun`` adds an unchanged re-run in the same host. One JSON document on stdout.

For questions the full suites do not answer alone (where a run's time goes, before and after a change):
``PYTHONPATH=<another checkout> python -m bench.timeline ...`` measures that checkout with the same harness.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from typing import Any

from bench.harness import REPO_ROOT, Loop
from bench.history import activity_spans, read_run_history, summarize
from bench.suites import SOURCE_ID, Workspace, _workspace, describe
from devhost import history as h


def activities(history: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per activity name: calls and seconds (TaskScheduled → TaskCompleted/Failed, summed over calls that may
    overlap), and each publish call's start (seconds after the run's first event) and duration."""
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    spans = activity_spans(history)
    for _, name, start, end in spans:
        seconds[name] += (end - start).total_seconds()
        calls[name] += 1
    first = min((h.parse_ts(ev["Timestamp"]) for rounds in history.values() for line in rounds
                 for ev in line["events"]), default=None)
    publish = [{"start_s": round((s - first).total_seconds(), 2), "seconds": round((e - s).total_seconds(), 2)}
               for _, name, s, e in sorted(spans, key=lambda x: x[2]) if name == "publish_index" and first]
    return {"seconds": {k: round(v, 2) for k, v in sorted(seconds.items())}, "calls": dict(sorted(calls.items())),
            "publish": publish}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, required=True)
    parser.add_argument("--parallel", type=int, default=4, help="HARVEST_MAX_PARALLEL_BATCHES")
    parser.add_argument("--kind", choices=["folder", "rss", "sitemap"], default="folder")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds the corpus site adds to every request")
    parser.add_argument("--rerun", action="store_true", help="an unchanged re-run after the first")
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="another app setting")
    args = parser.parse_args(argv)
    env = {"HARVEST_MAX_PARALLEL_BATCHES": str(args.parallel)}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("HARVEST_"):
            print(f"--env: {item!r} is not HARVEST_NAME=value", file=sys.stderr)
            return 2
        env[key] = value
    loop = Loop()
    ws = Workspace(loop, REPO_ROOT / ".harvest" / "bench")
    ws.workdir.mkdir(parents=True, exist_ok=True)
    root = ws.corpus(args.docs)
    out: dict[str, Any] = {"docs": args.docs, "env": env, "load_avg_before": os.getloadavg()}
    with _workspace(ws, root, args.kind, "hashing", env, args.delay) as (storage, host):
        for tag in ["initial", "unchanged"] if args.rerun else ["initial"]:
            outcome = host.run(None)
            history = loop.call(read_run_history(storage.durable.direct_connection_string, host.durable_container,
                                                 outcome.run_id))
            run = describe(outcome, host, summarize(history))
            source = outcome.summary["sources"][SOURCE_ID]
            out[tag] = {k: run[k] for k in ("status", "wall_s", "host_cpu_s", "history_events",
                                            "history_events_per_doc", "blob_ops_per_doc")}
            out[tag]["index"] = {k: source["counts"].get(k) for k in ("index_upserted", "index_deleted")}
            out[tag]["activities"] = activities(history)
    out["peak_rss_mib"] = round((host.peak_rss_kb or 0) / 1024, 1)
    out["load_avg_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

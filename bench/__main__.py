"""``python -m bench`` (``make bench``): run every benchmark suite, write ``bench/results/latest.json`` and the
charts, and print the table docs/benchmarks.md shows. ``--quick`` is a small smoke run written under
``bench/results/tmp/`` (git-ignored). ``--only aoai`` runs the Azure OpenAI quota suite alone and merges its
keys into the existing results (``--only index``: the search index suite)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import aoai, charts
from bench import index as index_bench
from bench.harness import Loop
from bench.metrics import commit, machine
from bench.report import headline, table, targets
from bench.suites import Workspace, ingest_suite, latency_suite, scale_run, scale_runs

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"

# The latency suite's site answers every request 1 s late: at 8 requests in flight per batch, 2,000 documents
# cost 250 s of waiting with one batch at a time, against ~25 ms of host CPU each (extract, chunk, hashing
# embed, commit), so the network, not this 2-core machine, is what parallel batches must overlap.
FULL = {"e5_docs": 200, "main_docs": 2000, "latency_docs": 2000, "latency_delay_s": 1.0, "scale": [1000, 10000],
        "aoai": {"window": 60.0, "duration": 120.0}, "index_docs": 1000}
QUICK = {"e5_docs": 12, "main_docs": 200, "latency_docs": 200, "latency_delay_s": 1.0, "scale": [50, 300],
         "aoai": {"window": 6.0, "duration": 12.0},  # the quota's clock scaled 10x (the result says so)
         "index_docs": 40}
SMALL_REPEATS = 3  # fresh-host runs at the smallest scale size; its median peak RSS is reported
PARALLEL = (1, 4)  # HARVEST_MAX_PARALLEL_BATCHES of the latency suite's two runs


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpora; results under bench/results/tmp/")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["e5", "main", "latency", "scale", "aoai", "index"],
                        help="leave a suite out (a skipped aoai suite's earlier result is carried over)")
    parser.add_argument("--only", choices=["aoai", "index"], help="run this suite alone; its keys are merged into the "
                        "existing latest.json (the other suites' results are kept)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="HARVEST_BATCH_SIZE of the hashing folder and scale suites (default: the app's default, "
                        "as every other suite)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    out_dir = RESULTS / "tmp" if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = REPO_ROOT / ".harvest" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {"HARVEST_BATCH_SIZE": str(args.batch_size)} if args.batch_size else {}
    if args.only == "aoai":
        return _only_aoai(sizes, out_dir)
    if args.only == "index":
        return _only_index(sizes, out_dir)

    started = time.perf_counter()
    doc: dict[str, Any] = {
        "schema": 1,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "config": {"sizes": sizes, "hashing_suites_env": env, "e5_and_latency_suites_env": {},
                   "latency_parallel_batches": list(PARALLEL), "chunk_tokens": 256,
                   "chunk_overlap": 32, "seed": 1,
                   "azurite": "two in-memory emulators (task hub, corpus) with bench/azurite_lookup_patch.js"},
        "suites": {},
    }
    loop = Loop()
    ws = Workspace(loop, workdir)
    try:
        if "e5" not in args.skip:
            log(f"[e5-small] the headline ratio on {sizes['e5_docs']} documents (folder)")
            doc["suites"]["e5_folder"] = ingest_suite(ws, n=sizes["e5_docs"], embedder="e5-small", reruns=False,
                                                      bracket=True, log=log)
        if "main" not in args.skip:
            log(f"[hashing] ingest, re-runs, history and Blob ops on {sizes['main_docs']} documents (folder)")
            doc["suites"]["hashing_folder"] = ingest_suite(ws, n=sizes["main_docs"], embedder="hashing", env=env,
                                                           log=log)
        if "latency" not in args.skip:
            log(f"[hashing] the corpus as an RSS feed {sizes['latency_delay_s']} s away, parallel batches {PARALLEL}")
            doc["suites"]["latency_rss"] = latency_suite(ws, n=sizes["latency_docs"], delay=sizes["latency_delay_s"],
                                                         parallel=PARALLEL, log=log)
        if "scale" not in args.skip:
            log(f"[hashing] peak RSS and throughput at {sizes['scale']} documents (folder, fresh host each; "
                f"the smallest {SMALL_REPEATS} times, median)")
            smallest = min(sizes["scale"])  # a short run's peak is noisy: the median of SMALL_REPEATS runs
            doc["suites"]["scale"] = {
                str(n): scale_runs(ws, n=n, repeats=SMALL_REPEATS, embedder="hashing", env=env, log=log)
                if n == smallest else scale_run(ws, n=n, embedder="hashing", env=env, log=log)
                for n in sizes["scale"]}
        if "index" not in args.skip:
            log(f"[index] the search index kept equal to the corpus, {sizes['index_docs']} documents "
                "(LanceDB; Azure AI Search stand-in)")
            doc["suites"]["index"] = index_bench.index_suite(docs=sizes["index_docs"], log=log)
        if "aoai" not in args.skip:
            log(f"[azure-openai] the embedder at a TPM quota of the local fake ({sizes['aoai']})")
            doc["suites"]["aoai_quota"] = _aoai_run(sizes)
        elif (earlier := _earlier_suite(out_dir, "aoai_quota")) is not None:
            doc["suites"]["aoai_quota"] = {**earlier, "carried_over": True}
    finally:
        loop.close()
    doc["bench_wall_s"] = round(time.perf_counter() - started, 1)
    doc.update(headline(doc))
    doc["targets"] = targets(doc)
    doc["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    (out_dir / "latest.json").write_text(json.dumps(doc, indent=1) + "\n")
    _charts(doc, out_dir)
    print(table(doc))
    log(f"wrote {out_dir / 'latest.json'} in {doc['bench_wall_s']} s")
    return 0


def _earlier_suite(out_dir: Path, name: str) -> dict[str, Any] | None:
    """A suite's result in the existing ``latest.json`` (kept when this run skips it)."""
    path = out_dir / "latest.json"
    try:
        suite = json.loads(path.read_text()).get("suites", {}).get(name)
    except (OSError, ValueError):
        return None
    return suite if isinstance(suite, dict) else None


def _aoai_run(sizes: dict[str, Any]) -> dict[str, Any]:
    load = [round(x, 2) for x in os.getloadavg()]
    result = aoai.quota_suite(**sizes["aoai"], log=log)
    return {**result, "load_avg_at_start": load, "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]}


def _only_aoai(sizes: dict[str, Any], out_dir: Path) -> int:  # also called by tests/bench
    """The quota suite alone, merged into the existing results: its own commit, machine and load are kept
    with it (the document's top-level ones describe the run of the other suites)."""
    path = out_dir / "latest.json"
    doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"schema": 1, "suites": {}}
    log(f"[azure-openai] the embedder at a TPM quota of the local fake ({sizes['aoai']})")
    result = _aoai_run(sizes)
    result.update(generated_at=datetime.now(UTC).isoformat(timespec="seconds"), commit=commit(), machine=machine(),
                  run_alone=True)
    doc.setdefault("suites", {})["aoai_quota"] = result
    doc.update({key: value for key, value in headline(doc).items() if key.startswith("aoai_")})  # only its own
    doc["targets"] = targets(doc)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(table(doc))
    log(f"wrote the aoai_quota suite and its keys into {path}")
    return 0


def _only_index(sizes: dict[str, Any], out_dir: Path) -> int:
    """The index suite alone, merged into the existing results (like ``_only_aoai``)."""
    path = out_dir / "latest.json"
    doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"schema": 1, "suites": {}}
    log(f"[index] the search index kept equal to the corpus, {sizes['index_docs']} documents")
    result = index_bench.index_suite(docs=sizes["index_docs"], log=log)
    result.update(generated_at=datetime.now(UTC).isoformat(timespec="seconds"), commit=commit(), machine=machine(),
                  run_alone=True, load_avg=[round(x, 2) for x in os.getloadavg()])
    doc.setdefault("suites", {})["index"] = result
    doc.update({key: value for key, value in headline(doc).items() if key.startswith("index_")})
    doc["targets"] = targets(doc)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(table(doc))
    log(f"wrote the index suite and its keys into {path}")
    return 0


def _charts(doc: dict[str, Any], out_dir: Path) -> None:
    suites = doc["suites"]
    bars: list[tuple[str, dict[str, Any]]] = []
    if "e5_folder" in suites:
        run = suites["e5_folder"]["initial"]
        bars.append((f"initial, e5-small, {run['docs']} docs", run))
    if "hashing_folder" in suites:
        main = suites["hashing_folder"]
        bars.append((f"initial, hashing, {main['initial']['docs']} docs", main["initial"]))
        bars.append(("unchanged re-run, hashing", main["unchanged"]))
        bars.append(("1 %-edit re-run, hashing", main["edit"]))
    latency = suites.get("latency_rss", {})
    for p in PARALLEL:
        run = latency.get(f"parallel_{p}")
        if run:
            bars.append((f"RSS +{latency.get('delay_s', 0):g} s, {p} parallel batch(es), {run['docs']} docs", run))
    if bars:
        charts.stage_breakdown(bars, out_dir / "stages.png")
    points = list(suites.get("scale", {}).values())
    if "hashing_folder" in suites:  # same source kind, embedder and batch size; its host also ran re-runs
        points.append({**suites["hashing_folder"]["initial"], "peak_rss_mib": None})
    if len(points) >= 2:
        charts.throughput_vs_size(points, out_dir / "scaling.png")


if __name__ == "__main__":
    sys.exit(main())

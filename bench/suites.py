"""The benchmark runs: each suite gets its own Azurite (behind the counting proxy) and its own host.

* ``ingest_suite`` — initial ingest, the embedder alone on the same chunks, then (optionally) an unchanged
  re-run and the 1 %-edit re-run, on a ``folder`` or ``rss`` source.
* ``scale_run`` — one initial ingest in a fresh host, for peak RSS and throughput against corpus size
  (``scale_runs``: the median of several, for the smallest size).
* ``latency_suite`` — the same RSS source behind a site that adds a delay to every request, ingested with
  1 and with N parallel batches (each in a fresh host and Azurite): what parallel batches buy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import corpus
from bench.harness import Host, Loop, RunOutcome, Storage
from bench.history import read_run_history, summarize
from bench.metrics import export_chunks
from bench.server import Site

SOURCE_ID = "bench"
STAGES = ("discover", "fetch", "chunk", "embed", "commit")


@dataclass
class Workspace:
    loop: Loop
    workdir: Path

    def corpus(self, n: int, *, fresh: bool = False) -> Path:
        root = self.workdir / f"corpus-{n}"
        if fresh and root.exists():
            import shutil

            shutil.rmtree(root)
        corpus.write_corpus(root, n)
        return root

    def manifest(self, root: Path, kind: str, base_url: str | None = None) -> Path:
        path = self.workdir / f"sources-{root.name}-{kind}.yaml"
        if kind == "folder":
            spec = f"{{id: {SOURCE_ID}, kind: folder, path: '{root / 'docs'}'}}"
        elif kind == "rss":
            spec = f"{{id: {SOURCE_ID}, kind: rss, url: '{base_url}/feed.xml', max_items: 10000}}"
        else:
            spec = f"{{id: {SOURCE_ID}, kind: sitemap, url: '{base_url}/sitemap.xml'}}"
        path.write_text(f"sources:\n  - {spec}\n")
        return path


def describe(outcome: RunOutcome, host: Host, history: dict[str, Any] | None = None) -> dict[str, Any]:
    """One run as reported in the results: counts, rates, stage seconds, overhead, history, Blob ops."""
    source = outcome.summary["sources"][SOURCE_ID]
    counts, timings = source["counts"], source.get("timings", {})
    docs = counts["discovered"]
    stage_sum = sum(timings.get(s, 0.0) for s in STAGES)  # activity seconds: batches in parallel overlap
    corpus_ops = outcome.blob_ops.get(host.container, {})
    durable_ops = outcome.blob_ops.get(host.durable_container, {})
    per_doc = (lambda n: round(n / docs, 3)) if docs else (lambda n: None)
    out = {
        "run_id": outcome.run_id,
        "status": outcome.summary["status"],
        "docs": docs,
        "counts": counts,
        "wall_s": round(outcome.wall_s, 3),
        "docs_per_s": round(docs / outcome.wall_s, 2),
        "chunks_per_s": round(counts["chunks_embedded"] / outcome.wall_s, 2),
        "stages_s": {s: round(timings.get(s, 0.0), 3) for s in STAGES},
        "stage_seconds_sum": round(stage_sum, 3),
        "stage_seconds_per_wall_s": round(stage_sum / outcome.wall_s, 3) if outcome.wall_s else None,
        "pages": source.get("pages"),
        "batches": source.get("batches"),
        "history_events": outcome.history_events,
        "history_rounds": outcome.history_rounds,
        "history_events_per_doc": per_doc(outcome.history_events),
        "blob_ops": {"corpus": corpus_ops, "durable": durable_ops},
        "blob_ops_per_doc": {"corpus": per_doc(sum(corpus_ops.values())),
                             "durable": per_doc(sum(durable_ops.values()))},
        "host_cpu_s": outcome.host_cpu_s,
        "storage_cpu_s": outcome.storage_cpu_s,
        "load_avg_1m": outcome.load_avg,
    }
    if history is not None:
        out["history_in_hub"] = history
    return out


E5_SINGLE_ENGINE = ("--e5-engines", "1", "--e5-threads", str(max(1, len(os.sched_getaffinity(0)))))


def export(ws: Workspace, storage: Storage, host: Host, tag: str) -> tuple[Path, int]:
    """The chunks the ingest embedded, as JSON Lines (the embedder-alone runs' input)."""
    path = ws.workdir / f"chunks-{tag}.jsonl"
    count = ws.loop.call(export_chunks(storage.corpus.direct_connection_string, host.container, path, SOURCE_ID))
    return path, count


def alone(ws: Workspace, host: Host, embedder: str, chunks: Path, *extra: str) -> dict[str, Any]:
    """The embedder alone on ``chunks`` in a fresh process (``bench.embedder_only``)."""
    done = subprocess.run([sys.executable, "-m", "bench.embedder_only", "--embedder", embedder, "--chunks",
                           str(chunks), *extra], capture_output=True, text=True, check=True,
                          cwd=ws.workdir.parent.parent, env=host.env())
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _run(ws: Workspace, storage: Storage, host: Host, body: dict[str, Any] | None = None) -> dict[str, Any]:
    outcome = host.run(body)
    hub = storage.durable.direct_connection_string
    hist = ws.loop.call(read_run_history(hub, host.durable_container, outcome.run_id))
    return describe(outcome, host, summarize(hist))


def ingest_suite(ws: Workspace, *, n: int, embedder: str, kind: str = "folder", reruns: bool = True,
                 env: dict[str, str] | None = None, log: Any = print, delay: float = 0.0,
                 embedder_alone: bool = True, bracket: bool = False) -> dict[str, Any]:
    """The initial ingest in a fresh host and Azurite; then the embedder alone on the chunks it embedded
    (``embedder_alone``), the unchanged and the 1 %-edit re-runs (``reruns``).

    ``bracket``: the same initial ingest once more after the embedder alone (another fresh host and
    Azurite: ``initial_repeat``), so the embedder-alone run sits between two ingests and a machine
    whose speed drifts over the ~20 minutes weighs on both sides alike (the same 200-document e5 ingest
    took 379 s and 426 s on this VM on one afternoon, the embedder alone 393 s and 404 s). For e5-small
    the second baseline (``single_engine``) runs last."""
    root = ws.corpus(n, fresh=reruns)  # the edit step changes the files: start from a pristine corpus
    runs: dict[str, Any] = {}
    chunks: Path | None = None
    try:
        with _workspace(ws, root, kind, embedder, env, delay) as (storage, host):
            log(f"  initial ingest: {n} documents, {kind}, {embedder} ...")
            runs["initial"] = _run(ws, storage, host)
            log(f"    {runs['initial']['wall_s']} s, {runs['initial']['counts']['chunks_embedded']} chunks")
            if embedder_alone:
                chunks, count = export(ws, storage, host, f"{n}-{kind}-{embedder}")
                runs["embedder_only"] = {**alone(ws, host, embedder, chunks), "exported_chunks": count}
                log(f"  embedder alone: {runs['embedder_only']['chunks_per_s']} chunks/s")
            if reruns:
                runs["unchanged"] = _run(ws, storage, host)
                log(f"  unchanged re-run: {runs['unchanged']['wall_s']} s")
                changes = corpus.edit_corpus(root)
                runs["edit"] = _run(ws, storage, host)
                runs["edit"]["edited_docs"] = len(changes["edited"])
                runs["edit"]["deleted_docs"] = len(changes["deleted"])
                log(f"  1 %-edit re-run: {runs['edit']['wall_s']} s, "
                    f"{runs['edit']['counts']['chunks_embedded']} chunks")
        runs["peak_rss_mib"] = round((host.peak_rss_kb or 0) / 1024, 1)
        if bracket:
            with _workspace(ws, root, kind, embedder, env, delay) as (storage, again):
                log(f"  initial ingest again: {n} documents, {kind}, {embedder} ...")
                runs["initial_repeat"] = _run(ws, storage, again)
                log(f"    {runs['initial_repeat']['wall_s']} s")
        if chunks is not None and embedder == "e5-small":
            runs["embedder_only"]["single_engine"] = alone(ws, host, embedder, chunks, *E5_SINGLE_ENGINE)
    finally:
        if chunks is not None:
            chunks.unlink(missing_ok=True)
    return runs


@contextmanager
def _workspace(ws: Workspace, root: Path, kind: str, embedder: str, env: dict[str, str] | None,
               delay: float) -> Iterator[tuple[Storage, Host]]:
    """A fresh Azurite (behind the counting proxy), the corpus's site and a started host; all stopped after."""
    storage = Storage(ws.loop, ws.workdir)
    site = Site(root, delay=delay)
    base_url = ws.loop.call(site.start())
    host = Host(storage, ws.workdir, ws.manifest(root, kind, base_url), embedder, dict(env or {}))
    try:
        host.start()
        yield storage, host
    finally:
        host.stop()
        ws.loop.call(site.stop())
        storage.close()


def scale_runs(ws: Workspace, *, n: int, repeats: int, embedder: str, env: dict[str, str] | None = None,
               log: Any = print) -> dict[str, Any]:
    """``repeats`` scale runs of ``n`` documents: the run with the median peak RSS, with every run's peak and
    wall time. A short run's peak is whichever moment its few batches overlap most (231-265 MiB over 7
    1,000-document runs in one afternoon), so one sample of it decides little."""
    runs = [scale_run(ws, n=n, embedder=embedder, env=env, log=log) for _ in range(repeats)]
    median = sorted(runs, key=lambda r: r["peak_rss_mib"])[len(runs) // 2]
    return {**median, "peak_rss_mib_runs": [r["peak_rss_mib"] for r in runs],
            "wall_s_runs": [r["wall_s"] for r in runs]}


def scale_run(ws: Workspace, *, n: int, embedder: str, kind: str = "folder",
              env: dict[str, str] | None = None, log: Any = print) -> dict[str, Any]:
    root = ws.corpus(n)
    with _workspace(ws, root, kind, embedder, env, 0.0) as (storage, host):
        log(f"  scale: {n} documents, {kind}, {embedder} ...")
        run = _run(ws, storage, host)
    run["peak_rss_mib"] = round((host.peak_rss_kb or 0) / 1024, 1)
    log(f"    {run['wall_s']} s, peak RSS {run['peak_rss_mib']} MiB")
    return run


def latency_suite(ws: Workspace, *, n: int, delay: float, parallel: tuple[int, ...] = (1, 4),
                  log: Any = print) -> dict[str, Any]:
    """The RSS source behind a site ``delay`` seconds away, once per ``HARVEST_MAX_PARALLEL_BATCHES`` value
    (everything else at the app's defaults, hashing embedder); ``speedup``: wall time at the first value
    over wall time at the last."""
    out: dict[str, Any] = {"docs": n, "delay_s": delay}
    for p in parallel:
        log(f"  {n} documents over RSS, {int(delay * 1000)} ms a request, {p} parallel batch(es) ...")
        runs = ingest_suite(ws, n=n, embedder="hashing", kind="rss", reruns=False, log=log, delay=delay,
                            embedder_alone=False, env={"HARVEST_MAX_PARALLEL_BATCHES": str(p)})
        out[f"parallel_{p}"] = {**runs["initial"], "peak_rss_mib": runs["peak_rss_mib"]}
        log(f"    {out[f'parallel_{p}']['wall_s']} s")
    first, last = out[f"parallel_{parallel[0]}"], out[f"parallel_{parallel[-1]}"]
    out["speedup"] = round(first["wall_s"] / last["wall_s"], 3) if last["wall_s"] else None
    return out

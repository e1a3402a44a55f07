"""PNG charts from a results document: the stage breakdown, and throughput against corpus size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGE_COLORS = {
    "discover": "#4c72b0", "fetch": "#55a868", "chunk": "#c44e52", "embed": "#8172b2", "commit": "#ccb974",
    "orchestration": "#8c8c8c",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def stage_breakdown(runs: list[tuple[str, dict[str, Any]]], out: Path) -> Path:
    """One 100 % bar per run: each stage's share of the run's activity seconds (batches run in parallel, so
    activity seconds may exceed the wall time; the label gives both)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 0.75 * len(runs) + 1.6))
    labels = []
    for row, (label, run) in enumerate(reversed(runs)):
        busy = sum(run["stages_s"].values()) or 1.0
        left = 0.0
        parts = run["stages_s"]
        for stage, seconds in parts.items():
            share = 100.0 * seconds / busy
            ax.barh(row, share, left=left, color=STAGE_COLORS[stage], edgecolor="white",
                    label=stage if row == 0 else None)
            if share >= 7:
                ax.text(left + share / 2, row, f"{share:.0f}%", ha="center", va="center", fontsize=8, color="white")
            left += share
        labels.append(f"{label}\n{run['wall_s']:.1f} s wall, {busy:.0f} activity-s")
    ax.set_yticks(range(len(runs)), labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the run's activity seconds (%)")
    ax.set_title("Where a run's work goes, by stage")
    ax.legend(ncol=6, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(runs) > 3 else -0.3))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def throughput_vs_size(points: list[dict[str, Any]], out: Path) -> Path:
    """Documents/s and chunks/s of initial ingests of growing corpora (same source kind and embedder),
    and the host's peak RSS."""
    plt = _pyplot()
    points = sorted(points, key=lambda p: p["docs"])
    xs = [p["docs"] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(xs, [p["docs_per_s"] for p in points], "o-", label="documents/s", color="#4c72b0")
    left.set_xscale("log")
    left.set_xlabel("documents in the corpus")
    left.set_ylabel("documents/s", color="#4c72b0")
    twin = left.twinx()
    twin.plot(xs, [p["chunks_per_s"] for p in points], "s--", label="chunks/s", color="#c44e52")
    twin.set_ylabel("chunks/s", color="#c44e52")
    left.set_ylim(0, 1.25 * max(p["docs_per_s"] for p in points))
    twin.set_ylim(0, 1.25 * max(p["chunks_per_s"] for p in points))
    left.set_title("Initial ingest throughput against corpus size")
    with_rss = [p for p in points if p.get("peak_rss_mib")]
    right.plot([p["docs"] for p in with_rss], [p["peak_rss_mib"] for p in with_rss], "o-", color="#55a868")
    right.set_xscale("log")
    right.set_ylim(0, 1.25 * max((p["peak_rss_mib"] for p in with_rss), default=1))
    right.set_xlabel("documents in the corpus")
    right.set_ylabel("peak RSS of the host (MiB)")
    right.set_title("Host memory against corpus size")
    for ax in (left, right):
        ax.set_xticks(xs, [f"{x:,}" for x in xs])
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out

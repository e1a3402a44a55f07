"""Inline SVG charts for the run report (no scripts, no external resources)."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 640, 220, 40
STAGE_COLOURS = {"discover": "#6c8ebf", "fetch": "#82b366", "chunk": "#d6b656", "embed": "#b85450",
                 "commit": "#9673a6", "publish": "#4a9a9a"}


def documents_over_time(points: list[dict[str, Any]]) -> str:
    """A step line of cumulative documents processed against seconds since the run started."""
    if len(points) < 2:
        return '<p class="muted">Not enough progress data for a chart.</p>'
    max_s = max(p["s"] for p in points) or 1.0
    max_d = max(p["documents"] for p in points) or 1
    w, h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def xy(p: dict[str, Any]) -> tuple[float, float]:
        return PAD + p["s"] / max_s * w, PAD + h - p["documents"] / max_d * h

    path: list[str] = []
    for i, p in enumerate(points):
        x, y = xy(p)
        if i:
            path.append(f"{x:.1f},{xy(points[i - 1])[1]:.1f}")
        path.append(f"{x:.1f},{y:.1f}")
    last = points[-1]
    return (
        f'<svg role="img" aria-label="documents processed over time" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" data-chart="documents">'
        f'<line x1="{PAD}" y1="{PAD + h}" x2="{PAD + w}" y2="{PAD + h}" stroke="#999"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{PAD + h}" stroke="#999"/>'
        f'<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="{" ".join(path)}"/>'
        f'<text x="{PAD - 6}" y="{PAD + 4}" text-anchor="end" font-size="11">{max_d}</text>'
        f'<text x="{PAD - 6}" y="{PAD + h}" text-anchor="end" font-size="11">0</text>'
        f'<text x="{PAD + w}" y="{PAD + h + 16}" text-anchor="end" font-size="11">{max_s:.1f} s</text>'
        f'<text x="{PAD}" y="{PAD + h + 16}" font-size="11">0 s</text>'
        f'<text x="{PAD + w}" y="{PAD - 10}" text-anchor="end" font-size="12" data-final-documents="'
        f'{last["documents"]}">{last["documents"]} documents</text></svg>'
    )


def stage_bar(timings: dict[str, float], scale: float) -> str:
    """One horizontal stacked bar of seconds per stage, ``scale`` = seconds of the longest bar."""
    if scale <= 0:
        return ""
    parts = []
    for stage, colour in STAGE_COLOURS.items():
        seconds = timings.get(stage, 0.0)
        if seconds > 0:
            pct = max(seconds / scale * 100, 0.5)
            parts.append(f'<span class="seg" style="width:{pct:.2f}%;background:{colour}" '
                         f'title="{escape(stage)} {seconds:.2f} s"></span>')
    return f'<div class="bar">{"".join(parts)}</div>'


def legend() -> str:
    return "".join(f'<span class="key"><span class="sw" style="background:{c}"></span>{s}</span>'
                   for s, c in STAGE_COLOURS.items())

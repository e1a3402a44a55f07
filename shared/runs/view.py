"""The live view of one run (``GET /api/runs/{id}``, ``harvest status --watch``, ``harvest run``): the run
record, with the Durable runtime status, the run's progress (custom status) and, for sources still
running, their own phase, page/batch position and counts so far. Pure: ``shared.runs.operations`` fetches
the pieces and calls ``compose``."""

from __future__ import annotations

from typing import Any

from shared.runs.engine import Instance
from shared.runs.status import RUN_FINAL, RUNTIME_TO_RUN

SOURCE_STARTED = ("running", "completed", "partial", "failed")  # a source the run's progress has seen start


def _source_phase(info: dict[str, Any], child: dict[str, Any] | None, progress: dict[str, Any]) -> dict[str, Any]:
    out = dict(info)
    status = out.get("status", "pending")
    entry = (progress.get("sources") or {}).get(out.get("source_id", ""), {}) if progress else {}
    if entry.get("status") in SOURCE_STARTED and status == "pending":
        status = out["status"] = entry["status"]
    if status == "running" and child:
        out["phase"] = child.get("phase") or "running"
        out["counts"] = child.get("counts") or out.get("counts")
        if child.get("batches"):
            out["position"] = {"page": int(child.get("page", 0)) + 1, "batch": child.get("batch"),
                               "batches": child.get("batches")}
    elif status == "running":
        out["phase"] = entry.get("phase") or out.get("phase") or "running"
    elif status == "pending":
        out["phase"] = "pending"
    else:
        out["phase"] = "done"
    return out


def running_source_ids(record: dict[str, Any] | None, run: Instance | None) -> list[str]:
    """Sources that may have an active orchestration, from the run's progress or else its record."""
    progress = run.progress if run else {}
    sources = progress.get("sources")
    if isinstance(sources, dict) and sources:
        ids = [sid for sid, info in sources.items() if isinstance(info, dict) and info.get("status") == "running"]
        if ids or not progress.get("aggregated"):
            return ids
    return [sid for sid, info in ((record or {}).get("sources") or {}).items()
            if info.get("status") in ("pending", "running")]


def compose(record: dict[str, Any] | None, run: Instance | None,
            children: dict[str, dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """Merge what is known about a run; None when neither a record nor an orchestration exists.
    ``children``: the custom status of each source orchestration still running, by source id."""
    if record is None and run is None:
        return None
    children = children or {}
    progress = run.progress if run else {}
    requested: dict[str, Any] = (run.input if run and isinstance(run.input, dict) else None) or {}
    view: dict[str, Any] = dict(record) if record else {
        "run_id": run.instance_id if run else "", "status": "pending", "trigger": requested.get("trigger"),
        "options": requested.get("options") or {}, "sources": {}, "totals": {},
        "requested_at": requested.get("requested_at")}
    runtime_status = run.runtime_status if run else None
    if run is not None and view.get("status") not in RUN_FINAL:
        mapped = RUNTIME_TO_RUN.get(run.runtime_status)
        if mapped and not (run.runtime_status == "Running" and view.get("status") == "pending" and not record):
            view["status"] = mapped
        if run.runtime_status == "Failed" and not view.get("message"):
            view["message"] = str(run.output)[:500]
    view["runtime_status"] = runtime_status
    view["sources"] = {sid: _source_phase({**info, "source_id": sid}, children.get(sid), progress)
                       for sid, info in (view.get("sources") or {}).items()}
    if progress:
        view["progress"] = {k: progress.get(k) for k in ("phase", "done", "total", "running", "by_status",
                                                         "elapsed_s", "eta_s", "eta_at", "updated_at") if k in progress}
    return view

"""The live view of one run (``GET /api/runs/{id}``, ``harvest status --watch``): the run record, with the
Durable runtime status, the run's progress (custom status) and, for sources still running, their own
phase, page/batch position and counts so far. Pure: callers fetch the pieces."""

from __future__ import annotations

from typing import Any

RUNTIME_TO_STATUS = {"Pending": "pending", "Running": "running", "Suspended": "suspended",
                     "Terminated": "cancelled", "Failed": "failed", "Canceled": "cancelled"}


def _source_phase(info: dict[str, Any], child: dict[str, Any] | None, progress: dict[str, Any]) -> dict[str, Any]:
    out = dict(info)
    status = out.get("status", "pending")
    entry = (progress.get("sources") or {}).get(out.get("source_id", ""), {}) if progress else {}
    if entry.get("status") in ("running", "completed", "partial", "failed") and status == "pending":
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


def live_view(record: dict[str, Any] | None, runtime: dict[str, Any] | None,
              children: dict[str, dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """Merge what is known about a run; None when neither a record nor an orchestration exists."""
    if record is None and runtime is None:
        return None
    children = children or {}
    progress = (runtime or {}).get("customStatus") if isinstance((runtime or {}).get("customStatus"), dict) else {}
    requested: dict[str, Any] = (runtime or {}).get("input") or {}
    view: dict[str, Any] = dict(record) if record else {
        "run_id": (runtime or {})["instanceId"], "status": "pending", "trigger": requested.get("trigger"),
        "options": requested.get("options") or {}, "sources": {}, "totals": {},
        "requested_at": requested.get("requested_at")}
    runtime_status = (runtime or {}).get("runtimeStatus")
    if runtime_status and view.get("status") not in ("completed", "partial", "failed", "cancelled"):
        mapped = RUNTIME_TO_STATUS.get(runtime_status)
        if mapped and not (runtime_status == "Running" and view.get("status") == "pending" and not record):
            view["status"] = mapped
        if runtime_status == "Failed" and not view.get("message"):
            view["message"] = str((runtime or {}).get("output"))[:500]
    view["runtime_status"] = runtime_status
    view["sources"] = {sid: _source_phase({**info, "source_id": sid}, children.get(sid), progress or {})
                       for sid, info in (view.get("sources") or {}).items()}
    if progress:
        view["progress"] = {k: progress.get(k) for k in ("phase", "done", "total", "running", "by_status",
                                                         "elapsed_s", "eta_s", "eta_at", "updated_at") if k in progress}
    return view

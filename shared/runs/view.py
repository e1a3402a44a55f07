"""The live view of one run (``GET /api/runs/{id}``, ``harvest status --watch``, ``harvest run``): the run
record, with the Durable runtime status, live progress and, for sources still running, their own phase,
page/batch position and counts so far. Pure: ``shared.runs.operations`` fetches the pieces and calls
``compose``.

Which sources have started is read from the run record, written by the activities that claim and release a
source (they run only once Azure has started that source), and from the run's custom status when its sources
all started together; counts of running sources from their orchestrations' (and batch lanes') custom status.
Elapsed time and the ETA are computed at the time of the request, so they move while the run works.

The view also carries the Durable status schema's fields (``name``, ``instanceId``, ``runtimeStatus``,
``input``, ``customStatus``, ``output``, ``createdTime``, ``lastUpdatedTime``), so a client written for the
Durable HTTP API reads a run's status URL unchanged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared import names
from shared.runs.engine import Instance
from shared.runs.progress import Clock, eta_clocks
from shared.runs.status import RUN_FINAL, RUNTIME_TO_RUN

SOURCE_STARTED = ("running", "completed", "partial", "failed")  # a source the run's progress has seen start
RUN_TO_RUNTIME = {"pending": "Pending", "running": "Running", "suspended": "Suspended", "completed": "Completed",
                  "partial": "Completed", "failed": "Failed", "cancelled": "Terminated"}


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


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
            if child.get("lanes"):
                out["position"]["lanes"] = len(child["lanes"])
    elif status == "running":
        out["phase"] = entry.get("phase") or out.get("phase") or "running"
    elif status == "pending":
        out["phase"] = "pending"
    else:
        out["phase"] = "done"
    return out


def running_source_ids(record: dict[str, Any] | None, run: Instance | None) -> list[str]:
    """Sources that may have an active orchestration: running in the record, or in the run's progress (its
    sources all started together)."""
    ids = [sid for sid, info in ((record or {}).get("sources") or {}).items() if info.get("status") == "running"]
    sources = (run.progress if run else {}).get("sources")
    if isinstance(sources, dict):
        ids += [sid for sid, info in sources.items()
                if isinstance(info, dict) and info.get("status") == "running" and sid not in ids]
    return ids


def live_progress(view: dict[str, Any], progress: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Done/total, per-status counts, totals, elapsed time and the ETA of the composed view, at ``now``."""
    sources: dict[str, dict[str, Any]] = view.get("sources") or {}
    by_status: dict[str, int] = {}
    totals: dict[str, int] = {}
    clocks = []
    for info in sources.values():
        status = str(info.get("status", "pending"))
        by_status[status] = by_status.get(status, 0) + 1
        counts = info.get("counts") or {}
        for key, value in counts.items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
        clocks.append(Clock(status, _when(info.get("started_at")), _when(info.get("finished_at")), counts))
    started = _when(view.get("started_at")) or _when(progress.get("started_at")) or _when(view.get("requested_at"))
    final = view.get("status") in RUN_FINAL
    end = (_when(view.get("finished_at")) or now) if final else now
    eta = 0.0 if final else eta_clocks(clocks, now, int(progress.get("window") or 1))
    out: dict[str, Any] = {
        "phase": "done" if final else progress.get("phase") or "pending",
        "done": sum(n for s, n in by_status.items() if s not in ("pending", "running")), "total": len(sources),
        "running": by_status.get("running", 0), "by_status": by_status,
        "totals": {k: v for k, v in totals.items() if v},
        "elapsed_s": round(max((end - started).total_seconds(), 0.0), 1) if started else None,
        "eta_s": eta, "eta_at": None, "updated_at": now.isoformat(),
    }
    if eta is not None and not final:
        out["eta_at"] = datetime.fromtimestamp(now.timestamp() + eta, now.tzinfo).isoformat()
    return out


def durable_fields(view: dict[str, Any], run: Instance | None) -> dict[str, Any]:
    """The Durable status schema's fields of the run (``durable-functions-http-api``, "Get instance status"):
    the orchestration's own while it exists, else read from the run record (purged after it ended)."""
    if run is not None:
        return {"name": run.name or names.RUN_ORCHESTRATOR, "instanceId": run.instance_id,
                "runtimeStatus": run.runtime_status, "input": run.input, "customStatus": run.custom_status,
                "output": run.output, "createdTime": run.created_time, "lastUpdatedTime": run.last_updated_time}
    return {"name": names.RUN_ORCHESTRATOR, "instanceId": view.get("run_id"),
            "runtimeStatus": RUN_TO_RUNTIME.get(str(view.get("status")), "Pending"), "input": None,
            "customStatus": None, "output": dict(view) if view.get("status") in RUN_FINAL else None,
            "createdTime": view.get("requested_at") or view.get("started_at"),
            "lastUpdatedTime": view.get("finished_at") or view.get("started_at")}


def compose(record: dict[str, Any] | None, run: Instance | None, children: dict[str, dict[str, Any]] | None = None,
            *, now: datetime) -> dict[str, Any] | None:
    """Merge what is known about a run; None when neither a record nor an orchestration exists.
    ``children``: the custom status of each source orchestration still running, by source id, with its batch
    lanes' counts already added (``shared.runs.operations.running_children``)."""
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
    view["progress"] = live_progress(view, progress, now)
    view.update(durable_fields(view, run))
    return view

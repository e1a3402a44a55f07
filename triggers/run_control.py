"""Run control (admin key): ``POST /api/runs/{run_id}/cancel``, ``/suspend`` and ``/resume``. Each applies
the Durable operation to the run *and* every source orchestration it started (the Durable management
URLs stop only the one instance), then records the new status in the run record and the run index.
Cancelling first fences the run (its activities write nothing more, even in a source orchestration that
started just before the terminate), and afterwards releases the source claims and the active-run place,
so the next run can start at once. Optional body: ``{"reason": "..."}``."""

from __future__ import annotations

import asyncio

import azure.durable_functions as df
import azure.functions as func

from shared import names
from shared.models import RunSummary
from shared.notify import notify
from shared.runs import active
from shared.runs.control import FINAL, mark_cancelled, record_notifications, release_claims, set_status
from shared.settings import get_settings
from shared.storage import records
from shared.storage.blobs import BlobStore
from triggers.http_requests import RUN_ID, HttpError, check_query, handler, not_found, open_store, path_id, reason_from
from triggers.instances import apply_to_run, runtime
from triggers.links import request_links
from triggers.responses import json_response

bp = df.Blueprint()
# operation → (Durable client method, runtime statuses it applies to, run record status afterwards)
OPERATIONS = {
    "cancel": ("terminate", {"Pending", "Running", "Suspended"}, "cancelled"),
    "suspend": ("suspend", {"Pending", "Running"}, "suspended"),
    "resume": ("resume", {"Suspended"}, "running"),
}


async def control(req: func.HttpRequest, client: df.DurableOrchestrationClient, operation: str) -> func.HttpResponse:
    check_query(req, set())
    run_id = path_id(req, "run_id", RUN_ID)
    reason = reason_from(req, f"{operation} requested over HTTP")
    method, applies_to, new_status = OPERATIONS[operation]
    async with open_store() as store:
        summary, state = await asyncio.gather(records.read_run(store, run_id), runtime(client, run_id))
        if state is None and summary is None:
            raise not_found("run", run_id)
        current = state["runtimeStatus"] if state else None
        final = summary is not None and summary.status in FINAL
        # a cancel that terminated the orchestration but stopped before the record followed: finish it
        unfinished = operation == "cancel" and current == "Terminated" and summary is not None and not final
        if final or (current not in applies_to and not unfinished):
            shown = summary.status if final and summary is not None else (current or "unknown")
            raise HttpError(409, f"cannot {operation} run {run_id}: it is {shown.lower()}",
                            [{"field": "run_id", "message": f"{operation} applies to runs that are "
                              f"{' or '.join(sorted(s.lower() for s in applies_to))}"}])
        source_ids = list(summary.sources) if summary else []
        if operation == "cancel":
            await mark_cancelled(store, run_id, reason)  # first: from now on the run's activities write nothing
        await apply_to_run(client, method, run_id, source_ids, reason, parent=not unfinished)
        updated = await set_status(store, run_id, new_status, reason=reason)
        released: list[str] = []
        if operation == "cancel":
            released = await release_claims(store, run_id, source_ids)
            await active.release(store, run_id)
            if updated is not None and updated.status == "cancelled":
                await _notify_cancelled(store, updated)
    body = {"run_id": run_id, "operation": operation, "status": updated.status if updated else new_status,
            "reason": reason, **request_links(req, run_id)}
    if operation == "cancel":
        body["released_sources"] = released
    return json_response(body, 202)


async def _notify_cancelled(store: BlobStore, summary: RunSummary) -> None:
    """The orchestrator never reaches its notify step once terminated: channels that list ``cancelled``
    are sent from here (failures are recorded, never raised)."""
    sent = [n.model_dump(mode="json") for n in await notify(get_settings(), summary)]
    if sent:
        await record_notifications(store, summary.run_id, sent)


@bp.function_name(names.CANCEL_RUN)
@bp.route(route="runs/{run_id}/cancel", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@bp.durable_client_input(client_name="client")
@handler
async def cancel_run_route(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await control(req, client, "cancel")


@bp.function_name(names.SUSPEND_RUN)
@bp.route(route="runs/{run_id}/suspend", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@bp.durable_client_input(client_name="client")
@handler
async def suspend_run_route(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await control(req, client, "suspend")


@bp.function_name(names.RESUME_RUN)
@bp.route(route="runs/{run_id}/resume", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@bp.durable_client_input(client_name="client")
@handler
async def resume_run_route(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await control(req, client, "resume")

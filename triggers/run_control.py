"""Run control (admin key): ``POST /api/runs/{run_id}/cancel``, ``/suspend`` and ``/resume``. Optional
body: ``{"reason": "..."}``. What each does (the run and its source orchestrations, the fence, released
claims) is ``shared.runs.operations.control``; this adapter parses, calls it and answers 202 (404 for no
such run, 409 when the run is in no state the operation applies to)."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared import names
from shared.runs import operations
from triggers.http_requests import handler, open_store, reason_from, run_route_id
from triggers.instances import DurableOrchestrations
from triggers.links import request_links
from triggers.responses import json_response

bp = df.Blueprint()


async def control(req: func.HttpRequest, client: df.DurableOrchestrationClient, operation: str) -> func.HttpResponse:
    run_id = run_route_id(req)
    reason = reason_from(req, f"{operation} requested over HTTP")
    async with open_store() as store:
        done = await operations.control(store, DurableOrchestrations(client), run_id, operation, reason)
    body: dict[str, Any] = {"run_id": run_id, "operation": operation, "status": done.status, "reason": reason,
                            **request_links(req, run_id)}
    if operation == "cancel":
        body["released_sources"] = done.released_sources
    return json_response(body, 202)


def _route(operation: str, function_name: str) -> Any:
    """``POST /api/runs/{run_id}/{operation}`` at the admin level, registered as ``function_name``."""

    async def route(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        return await control(req, client, operation)

    route.__name__ = route.__qualname__ = f"{operation}_run_route"
    wrapped = handler(route)
    return bp.function_name(function_name)(bp.route(route=f"runs/{{run_id}}/{operation}", methods=["POST"],
                                                    auth_level=func.AuthLevel.ADMIN)(
        bp.durable_client_input(client_name="client")(wrapped)))


cancel_run_route = _route("cancel", names.CANCEL_RUN)
suspend_run_route = _route("suspend", names.SUSPEND_RUN)
resume_run_route = _route("resume", names.RESUME_RUN)

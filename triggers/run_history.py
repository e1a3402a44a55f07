"""Run history: ``GET /api/runs`` (newest first, filtered, paginated from the run index),
``GET /api/runs/{run_id}`` (the run record with live progress; 202 with ``Location`` and ``Retry-After``
while its orchestration is active, 200 once it has ended, like a Durable status URL),
``GET /api/runs/{run_id}/report`` (HTML) and ``DELETE /api/runs/{run_id}`` (admin: purge the record,
report, index entry and orchestration history). The view, the report and the purge are
``shared.runs.operations``'; these routes parse, call it and answer."""

from __future__ import annotations

import re

import azure.durable_functions as df
import azure.functions as func

from shared import names
from shared.names import SOURCE_ID
from shared.runs import operations
from shared.runs.index import BadContinuation, RunQuery, list_runs
from shared.runs.status import RUN_STATUSES, RUNTIME_ACTIVE
from triggers.http_requests import (
    HttpError,
    check_query,
    handler,
    not_found,
    open_store,
    query_choice,
    query_datetime,
    query_int,
    query_text,
    run_route_id,
)
from triggers.instances import DurableOrchestrations
from triggers.links import RETRY_AFTER, request_links
from triggers.responses import json_response

bp = df.Blueprint()
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,4096}$")


@bp.function_name(names.LIST_RUNS)
@bp.route(route="runs", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@handler
async def list_runs_route(req: func.HttpRequest) -> func.HttpResponse:
    check_query(req, {"status", "source", "since", "limit", "continuation"})
    query = RunQuery(status=query_choice(req, "status", RUN_STATUSES), source=query_text(req, "source", SOURCE_ID),
                     since=query_datetime(req, "since"), limit=query_int(req, "limit", 20, 1, 100))
    token = query_text(req, "continuation", TOKEN)
    async with open_store() as store:
        try:
            runs, next_token = await list_runs(store, query, token)
        except BadContinuation as exc:
            raise HttpError(400, "invalid request", [{"field": "continuation", "message": str(exc)}]) from None
    return json_response({"runs": runs, "continuation": next_token})


@bp.function_name(names.GET_RUN)
@bp.route(route="runs/{run_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@handler
async def get_run_route(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = run_route_id(req)
    async with open_store() as store:
        view = await operations.live_view(store, DurableOrchestrations(client), run_id)
    if view is None:
        raise not_found("run", run_id)
    links = request_links(req, run_id)
    view["status_url"] = links["statusQueryGetUri"]  # never a Durable management URL (older records had one)
    if view["runtime_status"] not in RUNTIME_ACTIVE:
        return json_response(view)
    # still going: answered as a Durable status URL is, so a client polls it the same way
    return json_response(view, 202, headers={"Location": links["statusQueryGetUri"], "Retry-After": RETRY_AFTER})


@bp.function_name(names.GET_RUN_REPORT)
@bp.route(route="runs/{run_id}/report", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@handler
async def get_run_report_route(req: func.HttpRequest) -> func.HttpResponse:
    run_id = run_route_id(req)
    async with open_store() as store:
        html = await operations.report_html(store, run_id)
    if html is None:
        raise not_found("run", run_id)
    return func.HttpResponse(html, status_code=200, mimetype="text/html", charset="utf-8",
                             headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                                      "X-Content-Type-Options": "nosniff"})


@bp.function_name(names.PURGE_RUN)
@bp.route(route="runs/{run_id}", methods=["DELETE"], auth_level=func.AuthLevel.ADMIN)
@bp.durable_client_input(client_name="client")
@handler
async def purge_run_route(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = run_route_id(req)
    async with open_store() as store:
        purged = await operations.purge(store, DurableOrchestrations(client), run_id)
    return json_response({"run_id": run_id, "purged": {"blobs": purged.blobs, "instances": purged.instances}})

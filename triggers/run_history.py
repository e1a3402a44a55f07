"""Run history: ``GET /api/runs`` (newest first, filtered, paginated from the run index),
``GET /api/runs/{run_id}`` (the run record with live progress; 202 with ``Location`` and ``Retry-After``
while its orchestration is active, 200 once it has ended, like a Durable status URL),
``GET /api/runs/{run_id}/report`` (HTML) and ``DELETE /api/runs/{run_id}`` (admin: purge the record,
report, index entry and orchestration history)."""

from __future__ import annotations

import asyncio
import re
from typing import get_args

import azure.durable_functions as df
import azure.functions as func

from shared import names
from shared.models import RunStatus
from shared.report import render_report
from shared.runs import timeline
from shared.runs.index import BadContinuation, RunQuery, delete_index, list_runs
from shared.runs.retention import delete_run_data
from shared.runs.view import live_view
from shared.storage import records
from triggers.http_requests import (
    RUN_ID,
    SOURCE_ID,
    HttpError,
    check_query,
    handler,
    not_found,
    open_store,
    path_id,
    query_choice,
    query_datetime,
    query_int,
    query_text,
)
from triggers.instances import ACTIVE_RUNTIME, child_id, running_children, running_source_ids, runtime
from triggers.links import RETRY_AFTER, request_links
from triggers.responses import json_response

bp = df.Blueprint()
STATUSES: tuple[str, ...] = get_args(RunStatus)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,4096}$")


@bp.function_name(names.LIST_RUNS)
@bp.route(route="runs", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@handler
async def list_runs_route(req: func.HttpRequest) -> func.HttpResponse:
    check_query(req, {"status", "source", "since", "limit", "continuation"})
    query = RunQuery(status=query_choice(req, "status", STATUSES), source=query_text(req, "source", SOURCE_ID),
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
    check_query(req, set())
    run_id = path_id(req, "run_id", RUN_ID)
    async with open_store() as store:
        summary, state = await asyncio.gather(records.read_run(store, run_id), runtime(client, run_id))
    record = summary.model_dump(mode="json") if summary else None
    if state is not None and state["runtimeStatus"] in ACTIVE_RUNTIME:
        children = await running_children(client, run_id, running_source_ids(record, state))
    else:
        children = {}
    view = live_view(record, state, children)
    if view is None:
        raise not_found("run", run_id)
    links = request_links(req, run_id)
    view["status_url"] = links["statusQueryGetUri"]  # never a Durable management URL (older records had one)
    if state is None or state["runtimeStatus"] not in ACTIVE_RUNTIME:
        return json_response(view)
    # still going: answered as a Durable status URL is, so a client polls it the same way
    return json_response(view, 202, headers={"Location": links["statusQueryGetUri"], "Retry-After": RETRY_AFTER})


@bp.function_name(names.GET_RUN_REPORT)
@bp.route(route="runs/{run_id}/report", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@handler
async def get_run_report_route(req: func.HttpRequest) -> func.HttpResponse:
    check_query(req, set())
    run_id = path_id(req, "run_id", RUN_ID)
    async with open_store() as store:
        html = await store.read_bytes(f"runs/{run_id}/report.html")
        if html is None:
            summary = await records.read_run(store, run_id)
            if summary is None:
                raise not_found("run", run_id)
            data = summary.model_dump(mode="json")
            html = render_report(data, timeline.from_source_results(data)).encode("utf-8")
    return func.HttpResponse(html, status_code=200, mimetype="text/html", charset="utf-8",
                             headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                                      "X-Content-Type-Options": "nosniff"})


@bp.function_name(names.PURGE_RUN)
@bp.route(route="runs/{run_id}", methods=["DELETE"], auth_level=func.AuthLevel.ADMIN)
@bp.durable_client_input(client_name="client")
@handler
async def purge_run_route(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    check_query(req, set())
    run_id = path_id(req, "run_id", RUN_ID)
    async with open_store() as store:
        summary, state = await asyncio.gather(records.read_run(store, run_id), runtime(client, run_id))
        if summary is None and state is None:
            raise not_found("run", run_id)
        if state is not None and state["runtimeStatus"] in ACTIVE_RUNTIME:
            raise HttpError(409, f"run {run_id} is still {state['runtimeStatus'].lower()}", [
                {"field": "run_id", "message": f"cancel it first: POST /api/runs/{run_id}/cancel"}])
        instances = (await client.purge_instance_history(run_id)).instances_deleted
        for sid in (summary.sources if summary else {}):
            instances += (await client.purge_instance_history(child_id(run_id, sid))).instances_deleted
        blobs = await delete_run_data(store, run_id, None)
        if summary is not None:
            await delete_index(store, summary)
    return json_response({"run_id": run_id, "purged": {"blobs": blobs, "instances": instances}})

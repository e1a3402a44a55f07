"""``POST /api/runs``: validate the request and start a run (the Durable HTTP starter)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func
from pydantic import ValidationError

from shared import names
from shared.config.messages import field_problems
from shared.errors import ConfigError
from shared.models import RunInput, RunOptions
from shared.pipeline.context import manifest_for
from shared.runs.active import release
from shared.runs.snapshot import write_snapshot
from shared.settings import get_settings
from triggers import idempotency
from triggers.active import take
from triggers.http_requests import HttpError, json_body, open_store
from triggers.links import RETRY_AFTER, accepted, request_links
from triggers.responses import error_response

bp = df.Blueprint()
log = logging.getLogger("harvest.triggers")
MAX_BODY = 64 * 1024
TRIGGERS = {"http", "cli"}


def new_run_id(now: datetime) -> str:
    return f"run-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def parse_options(req: func.HttpRequest) -> RunOptions | func.HttpResponse:
    try:
        data = json_body(req, MAX_BODY)
    except HttpError as exc:
        return error_response(exc.status, exc.error, exc.details, exc.headers)
    try:
        options = RunOptions.model_validate(data, strict=True)
    except ValidationError as exc:
        return error_response(400, "invalid request", field_problems(exc, empty="body", fields=RunOptions.model_fields))
    try:
        manifest_for(get_settings()).select(options.sources)
    except ConfigError as exc:
        return error_response(400, "invalid request", exc.problems)
    return options


@bp.function_name(names.START_RUN)
@bp.route(route="runs", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    options = parse_options(req)
    if isinstance(options, func.HttpResponse):
        return options
    trigger = req.headers.get("x-harvest-trigger", "http")
    if trigger not in TRIGGERS:
        return error_response(400, "invalid request",
                              [{"field": "X-Harvest-Trigger", "message": "must be 'http' or 'cli'"}])
    keyed = await idempotency.lookup(req, client, options, trigger)
    if isinstance(keyed, func.HttpResponse):
        return keyed
    now = datetime.now(UTC)
    run_id = keyed.run_id or new_run_id(now)
    async with open_store() as store:
        holder = await take(client, store, run_id, trigger)
        if holder is not None:
            return await idempotency.replay_if_bound(req, client, keyed) or busy(req, holder)
        try:
            if (replayed := await idempotency.claim(req, client, keyed, run_id)) is not None:
                await release(store, run_id)
                return replayed
            run = RunInput(run_id=run_id, trigger=trigger, options=options, requested_at=now)
            # the sources travel with the run: a resume elsewhere or after a deploy finishes it as started
            await write_snapshot(store, run_id, manifest_for(get_settings()))
            await client.start_new(names.RUN_ORCHESTRATOR, run_id, run.model_dump(mode="json"))
        except BaseException:
            await release(store, run_id)
            raise
    log.info("started run %s (%s)", run_id, trigger)
    return accepted(req, run_id)


def busy(req: func.HttpRequest, holder: str) -> func.HttpResponse:
    """409: another run is active; where to follow it."""
    url = request_links(req, holder)["statusQueryGetUri"]
    return error_response(409, f"run {holder} is still active", [
        {"field": "run_id", "message": holder}, {"field": "statusQueryGetUri", "message": url}],
        headers={"Location": url, "Retry-After": RETRY_AFTER})

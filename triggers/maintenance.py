"""``POST /api/maintenance/compact``: remove old corpus versions (admin key). Body: ``{"keep": N,
"sources": [ids]}`` (``keep`` ≥ 1, default 3; all sources of the manifest when ``sources`` is omitted).
``GET /api/maintenance/compact/{job_id}`` (admin key): the job's status in the Durable status schema, 202 with
``Location`` and ``Retry-After`` while it runs, 200 once it has ended — Harvest's own URL, not the Durable
management URLs, which carry the system key."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import names
from shared.config.messages import field_problems
from shared.errors import ConfigError
from shared.pipeline.context import manifest_for
from shared.runs.status import RUNTIME_ACTIVE
from shared.settings import get_settings
from triggers.http_requests import HttpError, handler, json_body, not_found
from triggers.links import RETRY_AFTER, public_base
from triggers.responses import error_response, json_response

bp = df.Blueprint()
MAX_BODY = 16 * 1024
JOB_ID = re.compile(r"^compact-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")


class CompactRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep: int = Field(default=3, ge=1, le=1000)
    sources: list[str] | None = None


@bp.function_name(names.START_COMPACT)
@bp.route(route="maintenance/compact", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@bp.durable_client_input(client_name="client")
async def start_compact(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        request = CompactRequest.model_validate(json_body(req, MAX_BODY), strict=True)
    except HttpError as exc:
        return error_response(exc.status, exc.error, exc.details, exc.headers)
    except ValidationError as exc:
        details = field_problems(exc, empty="body", fields=CompactRequest.model_fields)
        return error_response(400, "invalid request", details)
    try:
        manifest = manifest_for(get_settings())
        sources = [s.id for s in manifest.sources] if request.sources is None else request.sources
        manifest.select(sources)
    except ConfigError as exc:
        return error_response(400, "invalid request", exc.problems)
    instance_id = f"compact-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    await client.start_new(names.COMPACT_ORCHESTRATOR, instance_id, {"keep": request.keep, "sources": sources})
    url = job_url(req, instance_id)
    return json_response({"id": instance_id, "statusQueryGetUri": url}, 202,
                         headers={"Location": url, "Retry-After": RETRY_AFTER})


def job_url(req: func.HttpRequest, job_id: str) -> str:
    return f"{public_base(req)}/api/maintenance/compact/{job_id}"


@bp.function_name(names.GET_COMPACT)
@bp.route(route="maintenance/compact/{job_id}", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
@bp.durable_client_input(client_name="client")
@handler
async def get_compact(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    job_id = (req.route_params or {}).get("job_id", "")
    if not JOB_ID.fullmatch(job_id):
        raise HttpError(400, "invalid request", [{"field": "job_id", "message": "not a compaction job id"}])
    status = await client.get_status(job_id, show_input=True)
    if not status or status.runtime_status is None or status.name != names.COMPACT_ORCHESTRATOR:
        raise not_found("compaction job", job_id)
    body = status.to_json()
    if status.runtime_status.value in RUNTIME_ACTIVE:
        url = job_url(req, job_id)
        return json_response(body, 202, headers={"Location": url, "Retry-After": RETRY_AFTER})
    return json_response(body)

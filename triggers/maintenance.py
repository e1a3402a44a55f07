"""``POST /api/maintenance/compact``: remove old corpus versions (admin key). Body: ``{"keep": N,
"sources": [ids]}`` (``keep`` ≥ 1, default 3; all sources of the manifest when ``sources`` is omitted)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import names
from shared.errors import ConfigError
from shared.pipeline.context import manifest_for
from shared.settings import get_settings
from triggers.http_requests import HttpError, json_body
from triggers.responses import error_response, json_response, validation_details

bp = df.Blueprint()
MAX_BODY = 16 * 1024


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
        return error_response(400, "invalid request", validation_details(exc))
    try:
        manifest = manifest_for(get_settings())
        sources = [s.id for s in manifest.sources] if request.sources is None else request.sources
        manifest.select(sources)
    except ConfigError as exc:
        return error_response(400, "invalid request", exc.problems)
    instance_id = f"compact-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    await client.start_new(names.COMPACT_ORCHESTRATOR, instance_id, {"keep": request.keep, "sources": sources})
    links = client.get_client_response_links(req, instance_id)
    return json_response({"id": instance_id, **links}, 202, headers={"Location": links["statusQueryGetUri"]})

"""``GET /api/health`` (anonymous, for probes): 200 when settings, storage, manifest and embedder are
fine; 503 with the failing checks as ``details`` otherwise."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from shared import names
from shared.health import check_health
from triggers.http_requests import check_query, handler
from triggers.responses import json_response

bp = df.Blueprint()


@bp.function_name(names.HEALTH)
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handler
async def health_route(req: func.HttpRequest) -> func.HttpResponse:
    check_query(req, set())
    ok, checks = await check_health()
    if ok:
        return json_response({"status": "ok", "checks": checks})
    details = [{"field": c["name"], "message": c["message"]} for c in checks if not c["ok"]]
    return json_response({"error": "unhealthy", "details": details, "checks": checks}, 503)

"""``GET /api/openapi.json``: the OpenAPI document of the HTTP API."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from shared import names
from triggers.http_requests import handler
from triggers.openapi_spec import openapi
from triggers.responses import json_response

bp = df.Blueprint()


@bp.function_name(names.OPENAPI)
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handler
async def openapi_route(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(openapi(), headers={"Cache-Control": "max-age=300"})

"""The catch-all route: any other path under /api is a JSON 404, and a known path called with a method it
does not serve is a JSON 405 with ``Allow`` — so every error a client sees has the same shape."""

from __future__ import annotations

import re

import azure.durable_functions as df
import azure.functions as func

from shared import names
from triggers.openapi_spec import openapi
from triggers.responses import error_response

bp = df.Blueprint()
EXTRA_ROUTES = {"/maintenance/compact": ["POST"]}  # served, but not part of the operator API document


def _route_table() -> list[tuple[re.Pattern[str], list[str]]]:
    table = []
    paths = {p: [m.upper() for m in ops] for p, ops in openapi()["paths"].items()} | EXTRA_ROUTES
    for path, methods in paths.items():
        regex = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path.strip("/")))
        table.append((re.compile(regex, re.IGNORECASE), methods))
    return table


ROUTES = _route_table()


@bp.function_name(names.NOT_FOUND)
@bp.route(route="{*path}", auth_level=func.AuthLevel.ANONYMOUS)
def not_found_route(req: func.HttpRequest) -> func.HttpResponse:
    path = (req.route_params or {}).get("path", "").strip("/")
    for pattern, methods in ROUTES:
        if pattern.fullmatch(path):
            allowed = sorted(set(methods) | ({"HEAD"} if "GET" in methods else set()))
            return error_response(405, f"method {req.method} not allowed on /api/{path}",
                                  [{"field": "method", "message": f"allowed: {', '.join(allowed)}"}],
                                  headers={"Allow": ", ".join(allowed)})
    return error_response(404, "not found", [{"field": "path", "message": f"no route /api/{path[:200]}"}])

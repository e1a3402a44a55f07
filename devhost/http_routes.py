"""The app's HTTP triggers on /api/<route>, and the admin endpoint that fires other functions."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from .functions import ACTIVITY, HTTP, TIMER, FunctionInfo, invoke

if TYPE_CHECKING:
    from .host import LocalHost

log = logging.getLogger("harvest.devhost")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def to_http_request(request: web.Request, body: bytes, route_params: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest(
        method=request.method, url=str(request.url), headers=dict(request.headers),
        params={k: request.query[k] for k in request.query}, route_params=route_params, body=body,
    )


def to_aiohttp_response(result: Any) -> web.Response:
    if result is None:
        return web.Response(status=204)
    if isinstance(result, func.HttpResponse):
        headers = CIMultiDict((k, v) for k, v in result.headers.items())
        if "Content-Type" not in headers and result.mimetype:
            charset = f"; charset={result.charset}" if result.charset else ""
            headers["Content-Type"] = f"{result.mimetype}{charset}"
        headers.pop("Content-Length", None)
        return web.Response(status=result.status_code, body=result.get_body(), headers=headers)
    if isinstance(result, bytes | bytearray):
        return web.Response(body=bytes(result), content_type="application/octet-stream")
    if isinstance(result, str):
        return web.Response(text=result, content_type="text/plain")
    return web.json_response(result)


class AppRoutes:
    def __init__(self, host: LocalHost) -> None:
        self.host = host

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.route("*", "/api/{tail:.*}", self.dispatch),
            web.post("/admin/functions/{name}", self.admin_invoke),
            web.get("/admin/host/status", self.admin_status),
        ]

    async def dispatch(self, request: web.Request) -> web.Response:
        path = request.match_info["tail"].strip("/")
        matches = [(f, m) for f in self.host.index.http if f.pattern and (m := f.pattern.fullmatch(path))]
        if not matches:
            return _error(404, f"no function serves /api/{path}")
        for info, match in matches:
            if info.methods is None or request.method in info.methods:
                params = {k: v for k, v in match.groupdict().items() if v is not None}
                return await self.call_http(info, request, params)
        allowed = sorted({m for info, _ in matches for m in (info.methods or ())})
        return _error(405, f"method {request.method} not allowed", {"Allow": ", ".join(allowed)})

    async def call_http(self, info: FunctionInfo, request: web.Request, params: dict[str, str]) -> web.Response:
        body = await request.read()
        kwargs: dict[str, Any] = {info.trigger_param: to_http_request(request, body, params)}
        for name in info.client_params:
            kwargs[name] = self.host.client_binding_json()
        try:
            result = await invoke(info, kwargs, self.host.engine.activity_pool)
            return to_aiohttp_response(result)
        except Exception:
            log.exception("HTTP function %s failed", info.name)
            return _error(500, "internal error")

    async def admin_invoke(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        info = self.host.index.functions.get(name)
        if info is None:
            return _error(404, f"no function named '{name}'")
        if info.kind == HTTP:
            return _error(400, f"'{name}' is an HTTP function: call it on /api/{info.route}")
        if info.kind == TIMER:
            self.host.engine.spawn(self.host.fire_timer(name), f"timer {name}")
            return web.Response(status=202)
        if info.kind == ACTIVITY:
            raw = await request.read()
            payload = json.loads(raw) if raw.strip() else {}
            value = payload.get("input") if isinstance(payload, dict) else None
            self.host.engine.spawn(self.host.engine.run_activity(name, json.dumps(value), -1), f"activity {name}")
            return web.Response(status=202)
        return _error(400, f"'{name}' ({info.kind}) cannot be invoked through the admin API")

    async def admin_status(self, request: web.Request) -> web.Response:
        return web.json_response({"state": "Running", "taskHub": self.host.task_hub,
                                  "functions": sorted(self.host.index.functions)})

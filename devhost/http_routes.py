"""The app's HTTP triggers on /api/<route>, and the admin endpoint that fires other functions.

Routing and encoding follow the Functions host: routes are tried in function-name order and the first whose
template and methods match wins (a route whose methods do not match is skipped; no match is a bare 404);
the request reaches the worker as ``RpcHttp`` (lower-cased headers, route values as ``params``, query values
with empty ones dropped, the body as bytes only when there is one: ``ToRpcHttp`` with the worker's
``RawHttpBodyBytes``/``RpcHttpBodyOnly`` capabilities); the worker's ``RpcHttp`` answer becomes the response.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from multidict import CIMultiDict

from . import protocol as p
from .durable_api import loads_json
from .functions import ACTIVITY, HTTP, TIMER, FunctionInfo, FunctionTimeoutError
from .keys import ADMIN, ANONYMOUS, unauthorized
from .routing import Router
from .worker import InvocationError

if TYPE_CHECKING:
    from .host import LocalHost

log = logging.getLogger("harvest.devhost")

# Kestrel's MinRequestBodyDataRate (the Functions host runs on Kestrel): 240 bytes/s after a 5 s grace period;
# a client that sends its body slower (or stops, short of its Content-Length) gets 408 instead of a hung request.
MIN_BODY_BYTES_PER_S = 240.0
BODY_GRACE_S = 5.0
# The Functions host's largest request: 100 MB (learn.microsoft.com/azure/azure-functions/functions-scale,
# "Service limits": "Max request size 100 MB").
MAX_REQUEST_BYTES = 100 * 1024 * 1024


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def to_rpc_http(request: web.Request, body: bytes, route_params: dict[str, str]) -> p.RpcHttp:
    query: dict[str, str] = {}
    for key in request.query:
        value = ",".join(request.query.getall(key))
        if value:
            query[key] = value
    return p.RpcHttp(
        method=request.method, url=str(request.url),
        headers={k.lower(): ",".join(request.headers.getall(k)) for k in request.headers},
        params=dict(route_params), query=query,
        body=p.TypedData(bytes=body) if body else p.TypedData(),
    )


def from_rpc_http(value: p.TypedData | None) -> web.Response:
    """The worker's return value (``$return`` of the http output binding) as the host's response."""
    kind = value.WhichOneof("data") if value is not None else None
    if value is None or kind is None:
        return web.Response(status=204)
    if kind == "string":
        return web.Response(text=value.string, content_type="text/plain")
    if kind != "http" or value.http is None:
        raise TypeError(f"HTTP function returned {kind!r}, not an HTTP response")
    http = value.http
    headers = CIMultiDict(http.headers)
    headers.pop("Content-Length", None)
    for cookie in http.cookies or []:
        headers.add("Set-Cookie", f"{cookie.name}={cookie.value}")
    body_data = http.body
    body = b""
    if body_data is not None:
        body_kind = body_data.WhichOneof("data")
        if body_kind == "bytes":
            body = body_data.bytes or b""
        elif body_kind in ("string", "json"):
            body = str(getattr(body_data, body_kind)).encode()
    return web.Response(status=int(http.status_code or 200), body=body, headers=headers)


class AppRoutes:
    def __init__(self, host: LocalHost) -> None:
        self.host = host

    def add_routes(self, router: Router) -> None:
        """``/api/...`` (each function's own level is checked in :meth:`dispatch`) and the admin API (master key)."""
        router.add(None, "api/{*tail}", self.dispatch, ANONYMOUS)
        router.add("POST", "admin/functions/{name}", self.admin_invoke, ADMIN)
        router.add("GET", "admin/host/status", self.admin_status, ADMIN)

    async def dispatch(self, request: web.Request) -> web.Response:
        path = request.match_info["tail"]
        found = self.host.loaded_index.match(path, request.method)
        if found is None:
            return web.Response(status=404)  # the host answers an unmatched route with an empty 404
        info, params = found
        if not self.host.keys.allows(info.auth_level, request):
            return unauthorized()
        return await self.call_http(info, request, params)

    async def call_http(self, info: FunctionInfo, request: web.Request, params: dict[str, str]) -> web.Response:
        allowed = self.host.body_grace_s + (request.content_length or 0) / MIN_BODY_BYTES_PER_S
        try:
            body = await asyncio.wait_for(request.read(), allowed)
        except TimeoutError:
            return web.Response(status=408)  # "Reading the request body timed out due to data arriving too slowly"
        try:
            result = await self.host.engine.invoker.http(info, to_rpc_http(request, body, params))
            return from_rpc_http(result)
        except (InvocationError, FunctionTimeoutError, TypeError) as exc:
            log.error("HTTP function %s failed: %s", info.name, exc)
            return web.Response(status=500)  # the host's answer to a failed invocation: 500, no body

    async def admin_invoke(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        info = self.host.loaded_index.functions.get(name)
        if info is None:
            return _error(404, f"no function named '{name}'")
        if info.kind == HTTP:
            return _error(400, f"'{name}' is an HTTP function: call it on /api/{info.route}")
        if info.kind == TIMER:
            self.host.engine.spawn(self.host.fire_timer(name), f"timer {name}")
            return web.Response(status=202)
        if info.kind == ACTIVITY:
            raw = await request.read()
            try:
                payload = loads_json(raw) if raw.strip() else {}
            except ValueError:  # not JSON, or nested past Json.NET's MaxDepth (was a RecursionError: 500)
                return _error(400, "body must be JSON: {\"input\": ...}")
            value = payload.get("input") if isinstance(payload, dict) else None
            self.host.engine.spawn(self.host.engine.run_activity(name, json.dumps(value), -1), f"activity {name}")
            return web.Response(status=202)
        return _error(400, f"'{name}' ({info.kind}) cannot be invoked through the admin API")

    async def admin_status(self, request: web.Request) -> web.Response:
        return web.json_response({"state": "Running", "taskHub": self.host.task_hub,
                                  "functions": sorted(self.host.loaded_index.functions)})

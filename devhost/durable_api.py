"""The Durable extension's HTTP API (``/runtime/webhooks/durabletask/...``) over the engine.

Status codes follow the extension, because ``DurableOrchestrationClient`` switches on them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from . import history as h
from .engine import InstanceExistsError, InvalidInstanceIdError, UnknownFunctionError
from .routing import Router
from .runner import TERMINAL

if TYPE_CHECKING:
    from .host import LocalHost

PREFIX = "/runtime/webhooks/durabletask"
# The extension's RPC endpoint for out-of-process SDKs (``rpcBaseUrl``): ``http://127.0.0.1:<port>/durabletask/`` on
# a listener of its own, loopback only, no key (extension ``LocalHttpListener.cs``); see devhost.listeners.
RPC_PATH = "/durabletask"
# Json.NET's default MaxDepth (``JsonSerializerSettings.DefaultMaxDepth``, Newtonsoft.Json 13): the extension reads
# request bodies with it, so deeper JSON is its 400 "Invalid JSON content" (a JsonReaderException).
MAX_JSON_DEPTH = 64
RUNNING = {"Pending", "Running", "Suspended", "ContinuedAsNew"}


def client_binding(base_url: str, task_hub: str, rpc_base_url: str, key_query: str = "") -> dict[str, Any]:
    """The durableClient binding payload the Functions host hands to starters: management links on the public
    ``base_url``, the SDK's own calls to ``rpc_base_url`` (the loopback RPC listener). ``key_query`` is
    ``&code=<system key>`` when keys are on: Azure's management links carry it."""
    query = f"taskHub={quote(task_hub)}&connection=Storage{key_query}"
    inst = f"{base_url}{PREFIX}/instances/INSTANCEID"
    return {
        "taskHubName": task_hub,
        "creationUrls": {
            "createNewInstancePostUri": f"{base_url}{PREFIX}/orchestrators/{{functionName}}[/{{instanceId}}]?{query}",
            "createAndWaitOnNewInstancePostUri":
                f"{base_url}{PREFIX}/orchestrators/{{functionName}}[/{{instanceId}}]?timeout={{timeoutInSeconds}}"
                f"&pollingInterval={{intervalInSeconds}}&{query}",
        },
        "managementUrls": management_urls(inst, "INSTANCEID", query),
        "rpcBaseUrl": rpc_base_url,
        "baseUrl": f"{base_url}{PREFIX}",
        "requiredQueryStringParameters": "",
        "httpBaseUrl": f"{base_url}{PREFIX}",
    }


def management_urls(inst: str, instance_id: str, query: str) -> dict[str, str]:
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{inst}?{query}",
        "sendEventPostUri": f"{inst}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{inst}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{inst}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{inst}?{query}",
        "restartPostUri": f"{inst}/restart?{query}",
        "suspendPostUri": f"{inst}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{inst}/resume?reason={{text}}&{query}",
    }


def _json_value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def bad_request(message: str, detail: str) -> web.HTTPBadRequest:
    """The extension's 400 (``request.CreateErrorResponse(BadRequest, message, e)``): ``Message`` and
    ``ExceptionMessage``, which the SDK reads."""
    body = json.dumps({"Message": message, "ExceptionMessage": detail})
    return web.HTTPBadRequest(text=body, content_type="application/json")


async def read_json_body(request: web.Request) -> str | None:
    """Body -> JSON text. The SDK double-encodes (a JSON string holding JSON); curl sends plain JSON. What is
    not JSON, or nests deeper than Json.NET's ``MaxDepth``, is the extension's 400 "Invalid JSON content"."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        value = loads_json(raw)
        if isinstance(value, str):
            try:
                loads_json(value)
                return value
            except ValueError:
                return json.dumps(value)
    except ValueError as exc:
        raise bad_request("Invalid JSON content", str(exc)[:200]) from None
    return json.dumps(value)


def loads_json(raw: bytes | str) -> Any:
    """``json.loads``, with nesting past ``MAX_JSON_DEPTH`` a ``ValueError`` (``json.loads`` itself would raise
    ``RecursionError`` at about 1,000 levels)."""
    try:
        value = json.loads(raw)
    except RecursionError:
        value = None
        level = MAX_JSON_DEPTH + 1
    else:
        level, frontier = 0, [value]
        while frontier and level <= MAX_JSON_DEPTH:  # breadth-first, one level at a time
            level += 1
            frontier = [c for node in frontier if isinstance(node, dict | list)
                        for c in (node.values() if isinstance(node, dict) else node)]
            frontier = [c for c in frontier if isinstance(c, dict | list)]
    if level > MAX_JSON_DEPTH:
        raise ValueError(f"the reader's MaxDepth of {MAX_JSON_DEPTH} has been exceeded")
    return value


def _time(request: web.Request, name: str) -> dt.datetime | None:
    """A date-time query parameter. The extension drops one ``DateTime.TryParse`` refuses (a list filtered on a
    typo lists everything; a purge answers 400): devhost refuses it on both, so the mistake shows locally."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return h.parse_ts(raw)
    except (ValueError, OverflowError):
        raise bad_request("One or more of the arguments submitted is incorrect",
                          f"{name}: {raw[:80]!r} is not a date-time (ISO 8601, e.g. 2026-12-06T10:00:00Z)") from None


def _count(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "")
    if raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise bad_request("One or more of the arguments submitted is incorrect",
                          f"{name}: {raw[:80]!r} is not a whole number (ASCII digits, at most 9)")
    return int(raw)


def _flag(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    return default if value is None else value.lower() == "true"


class DurableApi:
    def __init__(self, host: LocalHost) -> None:
        self.host = host
        self.engine = host.engine

    def add_routes(self, router: Router, prefix: str, level: str) -> None:
        """The extension's routes (``HttpApiHandler``: ``StartOrchestrationRoute``, ``InstancesRoute``,
        ``InstanceRaiseEventRoute``) under ``prefix``, each needing ``level``."""
        for methods, path, handler in (
            ("POST", "/orchestrators/{name}", self.start),
            ("POST", "/orchestrators/{name}/{instance_id}", self.start),
            ("GET", "/instances", self.list_instances),
            ("DELETE", "/instances", self.purge_by),
            ("GET", "/instances/{instance_id}", self.get_status),
            ("DELETE", "/instances/{instance_id}", self.purge),
            ("POST", "/instances/{instance_id}/raiseEvent/{event}", self.raise_event),
            ("POST", "/instances/{instance_id}/{operation}", self.operation),
        ):
            router.add(methods, prefix + path, handler, level)

    def payload(self, instance_id: str) -> dict[str, str]:
        query = f"taskHub={quote(self.host.task_hub)}&connection=Storage{self.host.keys.query()}"
        inst = f"{self.host.base_url}{PREFIX}/instances/{quote(instance_id, safe='')}"
        return management_urls(inst, instance_id, query)

    def status_json(self, state: dict[str, Any], show_input: bool = True) -> dict[str, Any]:
        body = {
            "name": state["name"], "instanceId": state["instanceId"], "runtimeStatus": state["runtimeStatus"],
            "input": _json_value(state.get("input")) if show_input else None,
            "customStatus": state.get("customStatus"), "output": state.get("output"),
            "createdTime": state["createdTime"], "lastUpdatedTime": state["lastUpdatedTime"],
        }
        return body

    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        input_json = await read_json_body(request)
        try:
            iid = await self.engine.start_instance(name, input_json, request.match_info.get("instance_id"))
        except (UnknownFunctionError, InvalidInstanceIdError) as exc:
            return web.json_response({"Message": "One or more of the arguments submitted is incorrect",
                                      "ExceptionMessage": str(exc)}, status=400)
        except InstanceExistsError as exc:
            return web.json_response({"Message": str(exc), "ExceptionMessage": str(exc)}, status=409)
        payload = self.payload(iid)
        return web.json_response(payload, status=202, headers={"Location": payload["statusQueryGetUri"]})

    async def get_status(self, request: web.Request) -> web.Response:
        iid = request.match_info["instance_id"]
        state = await self.engine.get_state(iid)
        if state is None:
            return web.json_response(f"No instance with ID '{iid}' found.", status=404)
        body = self.status_json(state, _flag(request, "showInput", True))
        if _flag(request, "showHistory"):
            events = await self.history(state, _flag(request, "showHistoryOutput"), _flag(request, "showInput", True))
            body["historyEvents"] = events
            body["history"] = events
        status = state["runtimeStatus"]
        if status in RUNNING:
            return web.json_response(body, status=202, headers={"Location": str(request.url), "Retry-After": "1"})
        if status == "Failed" and _flag(request, "returnInternalServerErrorOnFailure"):
            return web.json_response(body, status=500)
        return web.json_response(body, status=200)

    async def history(self, state: dict[str, Any], with_output: bool, with_input: bool = False) -> list[dict[str, Any]]:
        runner = self.engine.runners.get(state["instanceId"])
        if runner is not None:
            events = list(runner.history)
        else:
            lines = await self.engine.store.read_history(state["instanceId"], state["executionId"]) or []
            events = [ev for line in lines for ev in line["events"]]
        return h.status_history(events, with_output=with_output, with_input=with_input)

    async def _matching(self, request: web.Request) -> list[dict[str, Any]]:
        summaries = await self.engine.store.list_state_summaries()
        statuses = {s.strip() for s in request.query.get("runtimeStatus", "").split(",") if s.strip()}
        prefix = request.query.get("instanceIdPrefix", "")
        t_from, t_to = _time(request, "createdTimeFrom"), _time(request, "createdTimeTo")
        ids = []
        for iid, md in summaries:
            created = h.parse_ts(md["createdTime"]) if md.get("createdTime") else None
            if statuses and md.get("runtimeStatus") not in statuses:
                continue
            if prefix and not iid.startswith(prefix):
                continue
            if t_from and created and created < t_from:
                continue
            if t_to and created and created > t_to:
                continue
            ids.append(iid)
        states = []
        for iid in ids:
            runner = self.engine.runners.get(iid)
            states.append(runner.state if runner else None)
        missing = [i for i, s in zip(ids, states, strict=True) if s is None]
        loaded = {s["instanceId"]: s for s in await self.engine.store.read_states(missing)}
        return [s or loaded[i] for i, s in zip(ids, states, strict=True) if s or i in loaded]

    async def list_instances(self, request: web.Request) -> web.Response:
        top = _count(request, "top")
        states = await self._matching(request)
        states.sort(key=lambda s: s["createdTime"])
        if top > 0:
            states = states[:top]
        show_input = _flag(request, "showInput")
        return web.json_response([self.status_json(s, show_input) for s in states])

    async def purge(self, request: web.Request) -> web.Response:
        iid = request.match_info["instance_id"]
        if not await self.engine.purge(iid):
            return web.json_response(f"No instance with ID '{iid}' found.", status=404)
        return web.json_response({"instancesDeleted": 1})

    async def purge_by(self, request: web.Request) -> web.Response:
        states = [s for s in await self._matching(request) if s["runtimeStatus"] in TERMINAL]
        deleted = 0
        for state in states:
            deleted += int(await self.engine.purge(state["instanceId"]))
        if deleted == 0:
            return web.json_response({"instancesDeleted": 0}, status=404)
        return web.json_response({"instancesDeleted": deleted})

    async def raise_event(self, request: web.Request) -> web.Response:
        iid, name = request.match_info["instance_id"], request.match_info["event"]
        code = await self.engine.raise_event(iid, name, await read_json_body(request))
        return self._op_response(code, iid)

    async def operation(self, request: web.Request) -> web.Response:
        iid, op = request.match_info["instance_id"], request.match_info["operation"].lower()  # OrdinalIgnoreCase
        reason = request.query.get("reason", "")
        if op in ("terminate", "suspend", "resume"):
            return self._op_response(await self.engine.send(iid, {"type": op, "reason": reason}), iid)
        if op == "restart":
            state = await self.engine.get_state(iid)
            if state is None:
                return self._op_response(404, iid)
            new_id = None if _flag(request, "restartWithNewInstanceId", True) else iid
            try:
                new_id = await self.engine.start_instance(state["name"], state.get("input"), new_id)
            except InstanceExistsError as exc:
                return web.json_response({"ExceptionMessage": str(exc)}, status=409)
            return web.json_response(new_id, status=202)
        if op == "rewind":
            return web.json_response("rewind is not supported by the Harvest local host", status=501)
        return web.json_response({"error": f"unknown operation '{op}'"}, status=404)

    @staticmethod
    def _op_response(code: int, iid: str) -> web.Response:
        if code == 404:
            return web.json_response(f"No instance with ID '{iid}' found.", status=404)
        if code == 410:
            return web.json_response(f"Instance '{iid}' has already finished.", status=410)
        return web.Response(status=code)

"""The host's view of the app: functions from the worker's metadata, routes in the host's order, invocation.

Everything here is built from what the Functions host itself receives — each function's name, id and raw
binding JSON from the worker's metadata response — never from the Python objects, and every call goes
through :class:`devhost.worker.Worker` (Azure's worker runtime).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from . import protocol as p
from .worker import FunctionMetadata, InvocationError, Worker, json_data, returned_json, string_data

log = logging.getLogger("harvest.devhost")

HTTP, TIMER, ORCHESTRATOR, ACTIVITY, ENTITY, OTHER = "http", "timer", "orchestrator", "activity", "entity", "other"
_KINDS = {
    "httptrigger": HTTP, "timertrigger": TIMER, "orchestrationtrigger": ORCHESTRATOR,
    "activitytrigger": ACTIVITY, "entitytrigger": ENTITY,
}
_ROUTE_PARAM = re.compile(r"\{(\*?)(\w+)(?::[^}?]*)?(\?)?\}")
# Instance ids the Durable extension refuses (DurableClient.StartNewAsync): see docs/local-host.md.
MAX_INSTANCE_ID_LENGTH = 256
_BAD_INSTANCE_ID_CHAR = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


class FunctionTimeoutError(Exception):
    """An invocation ran past host.json's functionTimeout (the host then gives up on it)."""


@dataclass
class FunctionInfo:
    name: str
    kind: str
    trigger_param: str
    client_params: list[str]
    auth_level: str = "function"
    route: str | None = None
    methods: set[str] | None = None
    pattern: re.Pattern[str] | None = None
    schedule: str | None = None
    run_on_startup: bool = False


def compile_route(template: str) -> re.Pattern[str]:
    """Functions route template (``runs/{id}``, ``{id?}``, ``{*rest}``, ``{n:int}``) to a regex."""
    template = template.strip("/")
    out, pos = [], 0
    for m in _ROUTE_PARAM.finditer(template):
        literal = template[pos : m.start()]
        catch_all, name, optional = m.group(1), m.group(2), m.group(3)
        body = f"(?P<{name}>.*)" if catch_all else f"(?P<{name}>[^/]+)"
        if optional or catch_all:
            if literal.endswith("/"):
                out.append(re.escape(literal[:-1]) + f"(?:/{body})?")
            else:
                out.append(re.escape(literal) + f"{body}?" if not catch_all else re.escape(literal) + body)
        else:
            out.append(re.escape(literal) + body)
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out), re.IGNORECASE)


def describe(meta: FunctionMetadata) -> FunctionInfo:
    """One function as the host sees it, from its raw bindings."""
    trigger = next((b for b in meta.bindings if str(b.get("type", "")).lower().endswith("trigger")), {})
    kind = _KINDS.get(str(trigger.get("type", "")).lower(), OTHER)
    clients = [b["name"] for b in meta.bindings if str(b.get("type", "")).lower() == "durableclient"]
    info = FunctionInfo(name=meta.name, kind=kind, trigger_param=str(trigger.get("name", "")), client_params=clients)
    if kind == HTTP:
        info.route = str(trigger.get("route") or meta.name).strip("/")
        methods = trigger.get("methods")
        info.methods = {str(m).upper() for m in methods} if methods else None
        info.auth_level = str(trigger.get("authLevel") or "function").lower()
        info.pattern = compile_route(info.route)
    elif kind == TIMER:
        info.schedule = str(trigger.get("schedule", ""))
        info.run_on_startup = bool(trigger.get("runOnStartup", False))
    return info


class FunctionIndex:
    """All functions of one app, as the host registers them."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.functions: dict[str, FunctionInfo] = {m.name: describe(m) for m in worker.functions.values()}
        self.orchestrators = {n: f for n, f in self.functions.items() if f.kind == ORCHESTRATOR}
        self.activities = {n: f for n, f in self.functions.items() if f.kind == ACTIVITY}
        self.timers = {n: f for n, f in self.functions.items() if f.kind == TIMER}
        self.http, self.route_errors = route_table([f for f in self.functions.values() if f.kind == HTTP])

    def activity(self, name: str) -> FunctionInfo | None:
        """The activity ``name`` calls, ignoring case as the extension's ``FunctionName`` does."""
        return _named(self.activities, name)

    def orchestrator(self, name: str) -> FunctionInfo | None:
        """The orchestrator ``name`` starts, ignoring case as the extension's ``FunctionName`` does."""
        return _named(self.orchestrators, name)

    def match(self, path: str, method: str) -> tuple[FunctionInfo, dict[str, str]] | None:
        """The function serving ``method path``: the first in the host's order whose route and methods match."""
        for info in self.http:
            m = info.pattern.fullmatch(path) if info.pattern else None
            if m and (info.methods is None or method.upper() in info.methods):
                return info, {k: v for k, v in m.groupdict().items() if v is not None}
        return None


def _named(table: dict[str, FunctionInfo], name: str) -> FunctionInfo | None:
    found = table.get(name)
    if found is None:
        found = next((info for known, info in table.items() if known.lower() == name.lower()), None)
    return found


def route_table(functions: list[FunctionInfo]) -> tuple[list[FunctionInfo], dict[str, str]]:
    """HTTP functions in the order the host registers their routes: by function name, case-insensitive
    (Azure/azure-functions-host#9876: first match wins, no ASP.NET-style precedence). A function whose route
    template and methods duplicate an earlier one's is not registered (the host reports "The route specified
    conflicts with the route defined by function ...")."""
    table: list[FunctionInfo] = []
    errors: dict[str, str] = {}
    for info in sorted(functions, key=lambda f: f.name.lower()):
        for other in table:
            same_template = (other.route or "").lower() == (info.route or "").lower()
            overlap = other.methods is None or info.methods is None or bool(other.methods & info.methods)
            if same_template and overlap:
                errors[info.name] = f"The route specified conflicts with the route defined by function '{other.name}'."
                break
        else:
            table.append(info)
    return table, errors


def instance_id_error(instance_id: str) -> str | None:
    """Why the Durable extension would refuse ``instance_id`` as a new instance's id, or None."""
    if instance_id.startswith("@"):
        return "Orchestration instance ids must not start with @."
    if _BAD_INSTANCE_ID_CHAR.search(instance_id):
        return "Orchestration instance ids must not contain /, \\, #, ?, or control characters."
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        return f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters."
    return None


class Invoker:
    """Calls functions through the worker with each trigger's data encoded as the host encodes it."""

    def __init__(self, index: FunctionIndex, client_json: Any, function_timeout: float | None) -> None:
        self.index = index
        self.worker = index.worker
        self.client_json = client_json
        self.function_timeout = function_timeout

    def _clients(self, info: FunctionInfo) -> dict[str, p.TypedData]:
        # the Durable client binding reaches the worker as a JSON string
        return {name: string_data(self.client_json()) for name in info.client_params}

    async def _call(self, info: FunctionInfo, inputs: dict[str, p.TypedData],
                    metadata: dict[str, p.TypedData] | None = None) -> p.TypedData | None:
        call = self.worker.invoke(info.name, inputs, metadata)
        if self.function_timeout is None or info.kind == ORCHESTRATOR:
            return await call
        try:
            return await asyncio.wait_for(call, self.function_timeout)
        except TimeoutError:
            raise FunctionTimeoutError(
                f"Timeout value of {format_timespan(self.function_timeout)} was exceeded by function: "
                f"Functions.{info.name}") from None

    async def activity(self, info: FunctionInfo, input_json: str | None, instance_id: str) -> str:
        """Run an activity; its output as JSON text. Raises InvocationError / FunctionTimeoutError."""
        text = input_json if input_json is not None else "null"
        metadata = {"instanceId": string_data(instance_id), "data": p.TypedData(json=text)}
        out = await self._call(info, {info.trigger_param: string_data(text), **self._clients(info)}, metadata)
        return returned_json(out) or "null"

    async def orchestrator(self, info: FunctionInfo, context_json: str) -> str:
        """One replay episode; the orchestrator's state JSON (``OrchestrationContextToString`` in, JSON out)."""
        out = await self._call(info, {info.trigger_param: string_data(context_json)})
        text = returned_json(out)
        if text is None:
            raise InvocationError("orchestrator returned nothing", "")
        return text

    async def timer(self, info: FunctionInfo, past_due: bool, last: str, next_: str) -> None:
        timer_info = {"Schedule": {"AdjustForDST": True},
                      "ScheduleStatus": {"Last": last, "Next": next_, "LastUpdated": last}, "IsPastDue": past_due}
        await self._call(info, {info.trigger_param: json_data(timer_info), **self._clients(info)})

    async def http(self, info: FunctionInfo, request: p.RpcHttp) -> p.TypedData | None:
        return await self._call(info, {info.trigger_param: p.TypedData(http=request), **self._clients(info)})


def format_timespan(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds))).rjust(8, "0")


def parse_timespan(text: str) -> float | None:
    """host.json ``functionTimeout`` ("hh:mm:ss", "d.hh:mm:ss", or "-1" for unbounded) in seconds."""
    text = text.strip()
    if text in ("", "-1"):
        return None
    days = 0
    if "." in text.split(":")[0]:
        d, text = text.split(".", 1)
        days = int(d)
    h, m, s = (float(x) for x in text.split(":"))
    return days * 86400 + h * 3600 + m * 60 + s

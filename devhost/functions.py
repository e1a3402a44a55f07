"""Index a DFApp once and invoke its functions the way the Python worker does."""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

HTTP, TIMER, ORCHESTRATOR, ACTIVITY, ENTITY, OTHER = "http", "timer", "orchestrator", "activity", "entity", "other"
_KINDS = {
    "httpTrigger": HTTP, "timerTrigger": TIMER, "orchestrationTrigger": ORCHESTRATOR,
    "activityTrigger": ACTIVITY, "entityTrigger": ENTITY,
}
_ROUTE_PARAM = re.compile(r"\{(\*?)(\w+)(?::[^}?]*)?(\?)?\}")


@dataclass
class InvocationContext:
    """The bits of ``azure.functions.Context`` user code commonly reads."""

    function_name: str
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_directory: str = ""
    trace_context: Any = None
    retry_context: Any = None


@dataclass
class FunctionInfo:
    name: str
    kind: str
    func: Callable[..., Any]
    trigger_param: str
    client_params: list[str]
    wants_context: bool
    route: str | None = None
    methods: set[str] | None = None
    pattern: re.Pattern[str] | None = None
    schedule: str | None = None
    run_on_startup: bool = False

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)


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


class FunctionIndex:
    """All functions of one app, indexed once (``app.get_functions()`` may only be called once)."""

    def __init__(self, app: Any) -> None:
        self.functions: dict[str, FunctionInfo] = {}
        for fn in app.get_functions():
            info = self._describe(fn)
            self.functions[info.name] = info
        self.orchestrators = {n: f for n, f in self.functions.items() if f.kind == ORCHESTRATOR}
        self.activities = {n: f for n, f in self.functions.items() if f.kind == ACTIVITY}
        self.timers = {n: f for n, f in self.functions.items() if f.kind == TIMER}
        http = [f for f in self.functions.values() if f.kind == HTTP]
        # literal routes before parameterised ones, like the Functions host
        self.http = sorted(http, key=lambda f: ((f.route or "").count("{"), -len(f.route or "")))

    @staticmethod
    def _describe(fn: Any) -> FunctionInfo:
        trigger = fn.get_trigger()
        name = fn.get_function_name()
        user = fn.get_user_function()
        kind = _KINDS.get(getattr(trigger, "type", ""), OTHER)
        clients = [b.name for b in fn.get_bindings() if b.type == "durableClient"]
        try:
            params = inspect.signature(user).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        info = FunctionInfo(
            name=name, kind=kind, func=user, trigger_param=trigger.name, client_params=clients,
            wants_context="context" in params and trigger.name != "context" and "context" not in clients,
        )
        if kind == HTTP:
            info.route = (getattr(trigger, "route", None) or name).strip("/")
            methods = getattr(trigger, "methods", None)
            if methods:
                info.methods = {str(getattr(m, "value", m)).upper() for m in methods}
            info.pattern = compile_route(info.route)
        elif kind == TIMER:
            info.schedule = trigger.schedule
            info.run_on_startup = bool(getattr(trigger, "run_on_startup", False))
        return info


async def invoke(info: FunctionInfo, kwargs: dict[str, Any], executor: Executor) -> Any:
    """Call a function: async on the loop, sync in the executor."""
    if info.wants_context:
        kwargs = {**kwargs, "context": InvocationContext(function_name=info.name)}
    if info.is_async:
        return await info.func(**kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(info.func, **kwargs))


def decode_activity_input(input_json: str | None) -> Any:
    return ActivityTriggerConverter.decode(meta.Datum(type="json", value=input_json or "null"),
                                           trigger_metadata=None)


def encode_activity_output(value: Any) -> str:
    return str(ActivityTriggerConverter.encode(value, expected_type=None).value)


def failure_text(kind: str, name: str, exc: BaseException) -> tuple[str, str]:
    """(Reason, Details) for a failed activity/orchestration, like the extension reports them."""
    reason = f"{kind} function '{name}' failed: {type(exc).__name__}: {exc}"
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return reason, details

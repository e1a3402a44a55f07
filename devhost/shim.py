"""The Durable extension's half of an orchestrator episode, replayed as the extension replays it.

A Python orchestrator does not schedule anything itself: each episode it returns the whole list of actions
it has yielded so far, and the extension turns them into Durable Task Framework (DTFx) calls. For the
out-of-process schemas the Python SDK answers with (V2 and V3), the extension's
``OutOfProcOrchestrationShim.ProcessAsyncActionsV2`` does::

    foreach (AsyncAction action in actions) { Task t = InvokeAPIFromAction(action); try { await t; } catch {} }

(Azure/azure-functions-durable-extension, ``src/WebJobs.Extensions.DurableTask/Listener/``). So action k+1
is not even *invoked* — no task id, no message — until action k has completed; a ``WhenAll``/``WhenAny``
invokes its children in order and completes when all/any of them have. Each invocation takes the next id
of DTFx's one counter (``TaskOrchestrationContext.idCounter``: activities, timers, sub-orchestrations), and
``...WithRetry`` calls go through DTFx's ``RetryInterceptor``: on a failure it creates a timer (another id)
and, when that fires, schedules the call again (another id); after the last attempt it still waits on a
timer that fires at once ("dummy timer for back-compat"). DTFx runs all of this on a synchronous scheduler
while it replays the history event by event (``TaskOrchestrationExecutor.ExecuteCore``): a completion event
resolves its task and every continuation runs right there, so ids are assigned in history order.

``replay`` does the same in Python for one episode: it re-invokes the actions against the whole history,
matches each ``TaskScheduled``/``TimerCreated``/``SubOrchestrationInstanceCreated`` to the invocation with
its id (a mismatch is DTFx's ``NonDeterministicOrchestrationException``), resolves completions, and returns
what the extension would do now: the newly invoked actions (to record and start), and whether the
orchestration completes. An orchestration completes only when the shim has awaited every action and no
task is open (``!context.HasOpenTasks``), so a finished or failed Python orchestrator still waits for tasks
it left running.

Calls the extension refuses before taking an id (an unknown function, a sub-orchestration reusing its caller's
id, ...: ``CallDurableTaskFunctionAsync`` throws inside an async method) are faulted tasks the shim swallows:
``Outcome.refused``. External events go to the newest wait of their name (the extension keeps a stack per name),
and once ContinueAsNew has been invoked they are carried to the next execution (``Outcome.carryover``).

The Python SDK numbers its tasks with its own counter. When the two counters disagree — the SDK yielded
tasks the extension has not invoked yet, and a retry then takes ids on the extension's side — completions
reach the wrong tasks (azure-functions-durable-python#603). ``Outcome.deferred`` (actions returned but not
invoked) and ``Outcome.stuck`` (nothing open, nothing new, not done) let the host say so loudly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import history as h

CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY = 0, 1, 2, 3
CONTINUE_AS_NEW, CREATE_TIMER, WAIT_FOR_EVENT = 4, 5, 6
CALL_ENTITY, CALL_HTTP, SIGNAL_ENTITY, SCHEDULED_SIGNAL_ENTITY, WHEN_ANY, WHEN_ALL = 7, 8, 9, 10, 11, 12
UNSUPPORTED = {CALL_ENTITY: "durable entities", CALL_HTTP: "call_http", SIGNAL_ENTITY: "durable entities",
               SCHEDULED_SIGNAL_ENTITY: "durable entities"}
ACTION_NAMES = {CALL_ACTIVITY: "CallActivity", CALL_ACTIVITY_RETRY: "CallActivityWithRetry",
                CALL_SUB: "CallSubOrchestrator", CALL_SUB_RETRY: "CallSubOrchestratorWithRetry",
                CONTINUE_AS_NEW: "ContinueAsNew", CREATE_TIMER: "CreateTimer",
                WAIT_FOR_EVENT: "WaitForExternalEvent", WHEN_ANY: "WhenAny", WHEN_ALL: "WhenAll"}
SCHEDULED_KIND = {h.TASK_SCHEDULED: "activity", h.TIMER_CREATED: "timer", h.SUB_ORCHESTRATION_CREATED: "suborch"}
KIND_WORDS = {"activity": "an activity task", "timer": "a timer task", "suborch": "a sub-orchestration task"}


class Future:
    """A .NET ``Task`` as DTFx drives it: continuations run synchronously, in the order registered."""

    __slots__ = ("_callbacks", "done", "failed")

    def __init__(self) -> None:
        self.done = False
        self.failed = False
        self._callbacks: list[Callable[[Future], None]] = []

    def resolve(self, failed: bool = False) -> None:
        if self.done:
            return
        self.done, self.failed = True, failed
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def then(self, callback: Callable[[Future], None]) -> None:
        if self.done:
            callback(self)
        else:
            self._callbacks.append(callback)


def completed() -> Future:
    future = Future()
    future.resolve()
    return future


def faulted() -> Future:
    future = Future()
    future.resolve(failed=True)
    return future


class NonDeterministicError(Exception):
    """DTFx's ``NonDeterministicOrchestrationException``: the history and the replay disagree."""


MAX_DELAY_MS = 6 * 24 * 3600 * 1000  # AzureStorageDurabilityProvider.MaximumDelayTime (6 days)


@dataclass(frozen=True)
class Known:
    """What the extension checks before it schedules a call (``DurableOrchestrationContext
    .CallDurableTaskFunctionAsync``): the app's activity and orchestrator names (``FunctionName`` compares them
    ignoring case), this instance's id and its parent's."""

    activities: frozenset[str]  # lower-cased
    orchestrators: frozenset[str]  # lower-cased
    instance_id: str = ""
    parent_id: str | None = None

    @classmethod
    def of(cls, activities: Any, orchestrators: Any, instance_id: str = "", parent_id: str | None = None) -> Known:
        return cls(frozenset(str(n).lower() for n in activities), frozenset(str(n).lower() for n in orchestrators),
                   instance_id, parent_id)

    def refusal(self, action: dict[str, Any]) -> str | None:
        """Why ``CallDurableTaskFunctionAsync`` throws for this call (before any task id is taken), or None."""
        at, name = action.get("actionType"), str(action.get("functionName") or "")
        if at in (CALL_ACTIVITY_RETRY, CALL_SUB_RETRY):
            first = (action.get("retryOptions") or {}).get("firstRetryIntervalInMilliseconds", 0)
            if float(first) > MAX_DELAY_MS:  # durabilityProvider.ValidateDelayTime(FirstRetryInterval)
                return "The Azure Storage provider supports a maximum of 6 days for time-based delays"
        if at in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY):
            if name.lower() not in self.activities:  # DurableTaskExtension.ThrowIfFunctionDoesNotExist
                return f"The function '{name}' doesn't exist, is disabled, or is not an activity function."
            return None
        if name.lower() not in self.orchestrators:
            return f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
        child = action.get("instanceId")
        family = {self.instance_id.lower(), (self.parent_id or "").lower()} - {""}
        if isinstance(child, str) and child.lower() in family:
            return ("The instance ID of a sub-orchestration must be different than the instance ID of a parent "
                    "orchestration.")
        if isinstance(child, str) and child.startswith("@"):
            return "Orchestration instance ids must not start with @"
        return None


@dataclass
class Scheduled:
    """A task the extension invoked in this episode: what it records in history and starts."""

    id: int
    kind: str  # activity | timer | suborch
    name: str | None = None
    input: str | None = None
    instance_id: str | None = None
    fire_at: str | None = None


@dataclass
class Outcome:
    new: list[Scheduled] = field(default_factory=list)  # invoked now, not yet in history: record and start
    open_ids: set[int] = field(default_factory=set)  # tasks the extension still waits on
    finished: bool = False  # every action awaited and no task open: the orchestration ends now
    continue_as_new: str | None = None  # ...as new, with this input
    continued: bool = False
    error: str | None = None  # a non-determinism failure (the orchestration fails)
    awaiting: str | None = None  # the top-level action the shim is blocked on
    deferred: list[str] = field(default_factory=list)  # actions returned but not invoked (blocked behind it)
    waiting_for_event: bool = False
    refused: list[str] = field(default_factory=list)  # calls the extension refused: no id, no task, never completed
    carryover: list[dict[str, Any]] = field(default_factory=list)  # events raised after ContinueAsNew: next execution

    @property
    def stuck(self) -> bool:
        """Nothing open, nothing to start, not waiting for an event, not finished: in Azure the instance
        stays Running for ever (only an external event or terminate reaches it)."""
        return not (self.finished or self.new or self.open_ids or self.waiting_for_event or self.error)


def describe(action: dict[str, Any]) -> str:
    """An action as a person reads it: ``CallActivityWithRetry 'prepare'``, ``WhenAny[2]``."""
    at = action.get("actionType")
    word = ACTION_NAMES.get(at, f"action type {at}") if isinstance(at, int) else f"action type {at}"
    if at in (WHEN_ANY, WHEN_ALL):
        children = action.get("compoundActions") or []
        return f"{word}[{', '.join(describe(c) for c in children)}]"
    if at == WAIT_FOR_EVENT:
        return f"{word} {action.get('externalEventName')!r}"
    if action.get("functionName"):
        return f"{word} {action['functionName']!r}"
    return word


def unsupported(actions: list[dict[str, Any]]) -> str | None:
    for action in actions:
        at = action.get("actionType")
        if at in UNSUPPORTED:
            return f"{UNSUPPORTED[at]} are not supported by the Harvest local host (devhost)"
        if at in (WHEN_ANY, WHEN_ALL) and (bad := unsupported(action.get("compoundActions") or [])):
            return bad
        if at not in ACTION_NAMES and at not in UNSUPPORTED:
            return f"Received an unexpected action type from the out-of-proc function: '{at}'."
    return None


class _Context:
    """DTFx's ``TaskOrchestrationContext`` as far as the shim uses it."""

    def __init__(self, execution_id: str, known: Known | None = None) -> None:
        self.execution_id = execution_id
        self.known = known
        self.refused: list[str] = []
        self.next_id = 0
        self.now: dt.datetime | None = None
        self.actions: dict[int, Scheduled] = {}  # orchestratorActionsMap: invoked, not matched by history
        self.open: dict[int, Future] = {}  # openTasks
        self.waiters: dict[str, list[Future]] = {}  # WaitForExternalEvent: a stack per name, newest last
        self.buffered: dict[str, int] = {}  # events raised before anyone waited (a queue per name: a count here)
        self.continue_input: str | None = None
        self.continued = False
        self.carryover: list[dict[str, Any]] = []

    def _take(self, kind: str, **details: Any) -> tuple[int, Future]:
        tid = self.next_id
        self.next_id += 1
        if kind == "suborch" and not str(details.get("instance_id") or "").strip():  # string.IsNullOrWhiteSpace
            details["instance_id"] = f"{self.execution_id}:{tid}"  # CreateSubOrchestrationInstanceCore
        self.actions[tid] = Scheduled(tid, kind, **details)
        future = Future()
        self.open[tid] = future
        return tid, future

    def schedule(self, kind: str, **details: Any) -> Future:
        return self._take(kind, **details)[1]

    def timer(self, fire_at: str, cancelled: bool = False) -> Future:
        tid, future = self._take("timer", fire_at=fire_at)
        if cancelled:  # the shim cancels the token right after CreateTimer: TrySetCanceled, openTasks.Remove
            del self.open[tid]
            future.resolve(failed=True)
        return future

    def wait_event(self, name: str) -> Future:
        """The extension's ``WaitForExternalEvent``: the new wait goes on top of the name's stack ("to make it
        easier for users to abandon external events that they no longer care about. The common case is a
        Task.WhenAny in a loop"); an event buffered before it is taken at once (one per wait)."""
        future = Future()
        self.waiters.setdefault(name, []).append(future)
        if self.buffered.get(name):
            self.buffered[name] -= 1
            self.raise_event(name)
        return future

    def raise_event(self, name: str) -> None:
        """``RaiseEvent``: the newest wait of that name gets the event (an abandoned older one stays below it);
        with none, the event is buffered. The SDK agrees: ``open_tasks[name]`` is a list it pops from the end."""
        waiting = self.waiters.get(name)
        if waiting:
            waiting.pop().resolve()
        else:
            self.buffered[name] = self.buffered.get(name, 0) + 1

    def complete(self, tid: int, failed: bool) -> None:
        future = self.open.pop(tid, None)
        if future is not None:  # else DTFx logs a duplicate event and ignores it
            future.resolve(failed)

    def matched(self, ev: dict[str, Any]) -> None:
        """A scheduling event of the history: the replay must have invoked the same thing with its id."""
        tid, kind = int(ev["EventId"]), SCHEDULED_KIND[ev["EventType"]]
        action = self.actions.get(tid)
        name = ev.get("Name")
        if action is None or action.kind != kind or (
                kind != "timer" and str(action.name or "").lower() != str(name or "").lower()):
            found = "no task" if action is None else KIND_WORDS[action.kind] + (
                f" named '{action.name}'" if action.name else "")
            raise NonDeterministicError(
                f"A previous execution of this orchestration scheduled {KIND_WORDS[kind]} with sequence ID {tid}"
                + (f" and name '{name}'" if name else "") + f", but the current replay execution produced {found} "
                "with this sequence ID. Was a change made to the orchestrator code after this instance had "
                "already started running?")
        del self.actions[tid]


class _Retry:
    """DTFx's ``RetryInterceptor<T>.Invoke`` for one ``...WithRetry`` action."""

    def __init__(self, ctx: _Context, kind: str, details: dict[str, Any], options: dict[str, Any]) -> None:
        self.ctx, self.kind, self.details = ctx, kind, details
        self.first_ms = float(options.get("firstRetryIntervalInMilliseconds", 0))
        self.max_attempts = int(options.get("maxNumberOfAttempts", 1))
        self.backoff = float(options.get("backoffCoefficient", 1.0))
        # the extension's RetryOptions default (DefaultMaxRetryinterval: 6 days); the Python SDK never sends one
        self.max_interval_ms = options.get("maxRetryIntervalInMilliseconds", MAX_DELAY_MS)
        self.timeout_ms = options.get("retryTimeoutInMilliseconds")
        self.first_attempt = ctx.now
        self.count = 0
        self.result = Future()
        if self.max_attempts <= 0:  # the for loop never runs: the call returns default
            self.result.resolve()
        else:
            self._attempt()

    def _attempt(self) -> None:
        self.ctx.schedule(self.kind, **self.details).then(self._after)

    def _after(self, call: Future) -> None:
        if not call.failed:
            self.result.resolve()
            return
        if self.count + 1 == self.max_attempts:  # the back-compat timer that fires at once
            self.ctx.timer(h.iso(self._now())).then(lambda _: self.result.resolve(failed=True))
            return
        delay_ms = self._next_delay_ms()
        if delay_ms <= 0:
            self.result.resolve(failed=True)
            return
        fire_at = self._now() + dt.timedelta(milliseconds=delay_ms)
        self.ctx.timer(h.iso(fire_at)).then(self._again)

    def _again(self, _: Future) -> None:
        self.count += 1
        self._attempt()

    def _now(self) -> dt.datetime:
        return self.ctx.now or h.utcnow()

    def _next_delay_ms(self) -> float:
        """``ComputeNextDelay``: first * backoff^attempt, capped at the max interval, zero past the timeout."""
        if self.timeout_ms is not None and self.first_attempt is not None and (
                self._now() >= self.first_attempt + dt.timedelta(milliseconds=float(self.timeout_ms))):
            return 0.0
        delay = self.first_ms * (self.backoff ** self.count)
        if self.max_interval_ms is not None:
            delay = min(delay, float(self.max_interval_ms))
        return delay


class _Shim:
    """``ProcessAsyncActionsV2``: invoke the actions in order, awaiting each before invoking the next."""

    def __init__(self, ctx: _Context, actions: list[dict[str, Any]]) -> None:
        self.ctx = ctx
        self.actions = actions
        self.index = 0  # the next action to invoke
        self.done = Future()

    def start(self) -> None:
        self._next(None)

    def _next(self, _: Future | None) -> None:
        while self.index < len(self.actions):
            task = self.invoke(self.actions[self.index])
            self.index += 1
            if not task.done:
                task.then(self._next)
                return
        self.done.resolve()

    def invoke(self, action: dict[str, Any]) -> Future:
        ctx, at = self.ctx, action.get("actionType")
        if at in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY) and ctx.known is not None and (
                why := ctx.known.refusal(action)) is not None:
            # CallDurableTaskFunctionAsync is async: its ArgumentException faults the task it returns, no id is
            # taken, nothing is scheduled, and ProcessAsyncActionsV2 swallows the fault and goes on.
            if (entry := f"{describe(action)}: {why}") not in ctx.refused:
                ctx.refused.append(entry)
            return faulted()
        if at == CALL_ACTIVITY:
            return ctx.schedule("activity", name=action.get("functionName"), input=action.get("input"))
        if at == CALL_SUB:
            return ctx.schedule("suborch", name=action.get("functionName"), input=action.get("input"),
                                instance_id=action.get("instanceId"))
        if at in (CALL_ACTIVITY_RETRY, CALL_SUB_RETRY):
            kind = "activity" if at == CALL_ACTIVITY_RETRY else "suborch"
            details: dict[str, Any] = {"name": action.get("functionName"), "input": action.get("input")}
            if kind == "suborch":
                details["instance_id"] = action.get("instanceId")
            return _Retry(ctx, kind, details, action.get("retryOptions") or {}).result
        if at == CREATE_TIMER:
            return ctx.timer(str(action.get("fireAt")), cancelled=bool(action.get("isCanceled")))
        if at == WAIT_FOR_EVENT:
            return ctx.wait_event(str(action.get("externalEventName")))
        if at == CONTINUE_AS_NEW:
            ctx.continued, ctx.continue_input = True, action.get("input")
            return completed()
        if at in (WHEN_ALL, WHEN_ANY):
            children = [self.invoke(child) for child in action.get("compoundActions") or []]
            return _when_all(children) if at == WHEN_ALL else _when_any(children)
        raise ValueError(f"Received an unexpected action type from the out-of-proc function: '{at}'.")

    def awaiting(self) -> dict[str, Any] | None:
        return self.actions[self.index - 1] if self.index > 0 and not self.done.done else None


def _when_all(children: list[Future]) -> Future:
    out = Future()
    left = [len(children)]

    def one(_: Future) -> None:
        left[0] -= 1
        if left[0] == 0:
            out.resolve()

    if not children:
        out.resolve()
    for child in children:
        child.then(one)
    return out


def _when_any(children: list[Future]) -> Future:
    if not children:  # Task.WhenAny(empty) throws ArgumentException while the shim invokes the action
        raise ValueError("The tasks argument contains no tasks.")
    out = Future()
    for child in children:
        child.then(lambda _: out.resolve())
    return out


def replay(history: list[dict[str, Any]], actions: list[dict[str, Any]], *, execution_id: str,
           known: Known | None = None) -> Outcome:
    """What the extension does with ``actions`` (the SDK's schema-V2 list, one level) over ``history``
    (every event of this execution, this episode's new events last). With ``known``, calls the extension
    refuses (unknown function, a sub-orchestration reusing its parent's id, ...) take no id (``Outcome.refused``)."""
    ctx = _Context(execution_id, known)
    shim = _Shim(ctx, actions)
    outcome = Outcome()
    try:
        for ev in history:
            t = ev["EventType"]
            if t == h.ORCHESTRATOR_STARTED:
                ctx.now = h.parse_ts(ev["Timestamp"])
            elif t == h.EXECUTION_STARTED:
                shim.start()  # the extension calls the worker here and replays what it answers
            elif t in SCHEDULED_KIND:
                ctx.matched(ev)
            elif (cid := h.completion_id(ev)) is not None:
                ctx.complete(int(cid), failed=t in (h.TASK_FAILED, h.SUB_ORCHESTRATION_FAILED))
            elif t == h.EVENT_RAISED and ctx.continued:
                ctx.carryover.append(ev)  # HandleEventRaisedEvent: HasContinueAsNew → AddEventToNextIteration
            elif t == h.EVENT_RAISED:
                ctx.raise_event(str(ev.get("Name")))
    except (NonDeterministicError, ValueError) as exc:
        outcome.error = str(exc)
        return outcome
    outcome.new = sorted(ctx.actions.values(), key=lambda s: s.id)
    outcome.open_ids = set(ctx.open)
    outcome.finished = shim.done.done and not ctx.open
    outcome.continued, outcome.continue_as_new = ctx.continued, ctx.continue_input
    if (blocked := shim.awaiting()) is not None:
        outcome.awaiting = describe(blocked)
        outcome.deferred = [describe(a) for a in actions[shim.index:]]
    outcome.waiting_for_event = any(ctx.waiters.values())
    outcome.refused = ctx.refused
    outcome.carryover = ctx.carryover
    return outcome

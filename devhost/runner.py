"""One orchestration instance: its history, its replay episodes and the work they schedule.

An episode = [OrchestratorStarted, delivered events..., scheduled events..., OrchestratorCompleted]
and is appended to the history blob as ONE line *before* any of the work it schedules starts
(write-ahead). Completions that arrive in between are durable elsewhere (activity results blob,
inbox blob, timer fire times in history, child instance state), so a crash before the append
simply redoes the episode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from . import history as h
from . import shim
from .worker import InvocationError

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("harvest.devhost")
TERMINAL = {"Completed", "Failed", "Terminated"}
OUT_OF_PROC_MARK = "\n\n$OutOfProcData$:"
MAX_CUSTOM_STATUS_KB = 16
CARRYOVER = "CarryoverEvents"  # devhost's field on ExecutionCompleted(ContinuedAsNew): the next execution's events
# What the extension sends besides history and input (``OrchestrationTriggerAttributeBindingProvider
# .OrchestrationContextToString``): schema V2 and, for SDKs that know it, V3; the Azure Storage provider's
# long-timer settings (``AzureStorageDurabilityProvider``: MaximumDelayTime 6 days, LongRunningTimerIntervalLength
# 3 days), as .NET ``TimeSpan`` strings; the default ``call_http`` polling interval.
CONTEXT_FIELDS = ('"upperSchemaVersion":1,"upperSchemaVersionNew":2,"longRunningTimerIntervalDuration":"3.00:00:00",'
                  '"maximumShortTimerDuration":"6.00:00:00","defaultHttpAsyncRequestSleepTimeMillseconds":30000')


def custom_status_error(value: Any) -> str | None:
    """The Durable extension's refusal of a custom status over 16 KB, or None.

    ``SetCustomStatus`` serializes the value (compact JSON, non-ASCII kept) and ``MessagePayloadDataConverter``
    counts it as UTF-16 (``Encoding.Unicode``) in whole KB, truncated: it fails past 16 KB, i.e. from 17,408 bytes.
    """
    if value is None:
        return None
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    size_kb = int(len(text.encode("utf-16-le")) / 1024.0)
    if size_kb <= MAX_CUSTOM_STATUS_KB:
        return None
    return (f"The UTF-16 size of the JSON-serialized payload must not exceed {MAX_CUSTOM_STATUS_KB} KB. "
            f"The current payload size is {size_kb} KB.")


class InstanceRunner:
    def __init__(self, engine: Engine, state: dict[str, Any]) -> None:
        self.engine = engine
        self.store = engine.store
        self.state = state
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self._reset_execution()

    def _reset_execution(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.played: list[str] = []
        self.seq = 0
        self.open_ids: set[int] = set()
        self.delivered_messages: set[str] = set()
        self.timer_tasks: dict[int, asyncio.Task[None]] = {}
        self.held: list[dict[str, Any]] = []
        self.pending_continue: str | None = None
        self.pending_carryover: list[dict[str, Any]] = []
        self.reported: set[str] = set()  # durable-check findings already logged for this execution

    # ---- properties ------------------------------------------------------------------------
    @property
    def instance_id(self) -> str:
        return str(self.state["instanceId"])

    @property
    def execution_id(self) -> str:
        return str(self.state["executionId"])

    @property
    def done(self) -> bool:
        return self.state["runtimeStatus"] in TERMINAL

    def post(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(message)

    def start(self) -> None:
        self.task = self.engine.spawn(self._run(), f"instance {self.instance_id}")

    # ---- loading after a restart -----------------------------------------------------------
    def _absorb(self, events: list[dict[str, Any]]) -> None:
        for ev in events:
            ev["IsPlayed"] = True
            self.history.append(ev)
            self.played.append(json.dumps(ev))
            t = ev["EventType"]
            if t in h.SCHEDULING_TYPES:
                self.open_ids.add(ev["EventId"])
            elif (cid := h.completion_id(ev)) is not None:
                self.open_ids.discard(cid)
            if ev.get("MessageId"):
                self.delivered_messages.add(ev["MessageId"])

    async def load(self) -> None:
        await self.store.claim_history(self.instance_id, self.execution_id)  # fence out a previous host
        lines = await self.store.read_history(self.instance_id, self.execution_id)
        if lines is None:
            await self.store.create_history(self.instance_id, self.execution_id)
            lines = []
        for line in lines:
            self._absorb(line["events"])
            self.seq = max(self.seq, int(line["seq"]))
        last = next((e for e in reversed(self.history) if e["EventType"] in h.TERMINAL_TYPES), None)
        if last is not None:
            if last.get("OrchestrationStatus") == "ContinuedAsNew":
                self.pending_continue = last.get("Result")
                self.pending_carryover = list(last.get(CARRYOVER) or [])
                await self._redeliver_inbox()  # for the next execution: what this one had is left out here
                return
            status, output = _terminal_status(last, self.state["name"])
            await self._finish(status, output)
            return
        await self._redispatch()

    async def _redispatch(self) -> None:
        results = {h.completion_id(ev): ev for ev in await self.store.list_results(
            self.instance_id, self.execution_id)}
        for ev in self.history:
            tid = ev["EventId"]
            if ev["EventType"] not in h.SCHEDULING_TYPES or tid not in self.open_ids:
                continue
            if tid in results:
                self.post({"type": "event", "event": results[tid], "exec": self.execution_id})
            elif ev["EventType"] == h.TASK_SCHEDULED:
                self._dispatch(("activity", tid, ev["Name"], ev.get("Input")))
            elif ev["EventType"] == h.TIMER_CREATED:
                self._dispatch(("timer", tid, ev["FireAt"]))
            elif ev["EventType"] == h.SUB_ORCHESTRATION_CREATED:
                self._dispatch(("suborch", tid, ev["Name"], ev.get("Input"), ev["InstanceId"]))
        await self._redeliver_inbox()

    async def _redeliver_inbox(self) -> None:
        """Post the saved requests and events again, but for events this execution's history already has."""
        for name, message in await self.store.list_messages(self.instance_id):
            if message.get("id") in self.delivered_messages:
                self.engine.spawn(self.store.delete_blob(name), "inbox cleanup")
            else:
                self.post({**message, "inbox": name})

    # ---- the worker loop ---------------------------------------------------------------------
    async def _run(self) -> None:
        if self.pending_continue is not None:
            await self._switch_execution(self.pending_continue, self.pending_carryover)
        elif not self.history and not self.done:
            await self._episode([])
        while not self.done:
            messages = [await self.queue.get()]
            while not self.queue.empty():
                messages.append(self.queue.get_nowait())
            batch: list[dict[str, Any]] = []
            consumed: list[str] = []
            for m in messages:
                kind = m["type"]
                if kind == "event":
                    if m.get("exec") not in (None, self.execution_id) or not self._acceptable(m["event"]):
                        if m.get("inbox"):
                            consumed.append(m["inbox"])
                        continue
                    (self.held if self.state["runtimeStatus"] == "Suspended" else batch).append(m)
                elif kind == "terminate":
                    await self._terminate(str(m.get("reason", "")))
                elif kind == "suspend" and self.state["runtimeStatus"] in ("Running", "Pending"):
                    await self._set_status("Suspended")
                elif kind == "resume" and self.state["runtimeStatus"] == "Suspended":
                    await self._set_status("Running")
                    batch.extend(self.held)
                    self.held = []
                if kind != "event" and m.get("inbox"):
                    consumed.append(m["inbox"])
                if self.done:
                    break
            if batch and not self.done:
                await self._episode(batch)
                consumed.extend(m["inbox"] for m in batch if m.get("inbox"))
            for name in consumed:
                self.engine.spawn(self.store.delete_blob(name), "inbox cleanup")

    def _acceptable(self, ev: dict[str, Any]) -> bool:
        if ev["EventType"] == h.EVENT_RAISED:
            return ev.get("MessageId") not in self.delivered_messages
        cid = h.completion_id(ev)
        return cid is not None and cid in self.open_ids

    # ---- one episode -------------------------------------------------------------------------
    async def _episode(self, messages: list[dict[str, Any]]) -> None:
        """One orchestrator episode: the worker replays the history with the new events, then the actions it
        returns are replayed as the extension does (``devhost.shim``), which decides what starts now."""
        now = h.utcnow()
        delivered = [m["event"] for m in messages]  # in arrival order, as the extension appends them
        for ev in delivered:  # a completion claims its task once, even if delivered twice
            cid = h.completion_id(ev)
            if cid is not None:
                self.open_ids.discard(cid)
        episode = [h.event(h.ORCHESTRATOR_STARTED, ts=now)]
        if not self.history:
            parent = self.state.get("parent")
            episode.append(h.execution_started(self.state["name"], self.state.get("input"), parent))
        episode.extend(delivered)
        state = await self._replay(episode)
        name = self.state["name"]
        status, output, continue_input = "Running", None, None
        carryover: list[dict[str, Any]] = []
        planned: list[dict[str, Any]] = []
        new: list[shim.Scheduled] = []
        failure = custom_status_error(state.get("customStatus"))
        actions = _top_level(state.get("actions"))
        if failure is None and actions is None:
            failure = "With OOProc schema V3, expected actions array to be of length 1 in outer layer"
        if failure is None and (bad := shim.unsupported(actions or [])):
            failure = bad
        if failure is None and state.get("fatal"):
            failure = str(state["error"])  # the worker failed before the SDK answered: no actions to replay
        if failure is None:
            outcome = shim.replay(self.history + episode, actions or [], execution_id=self.execution_id,
                                  known=self._known())
            new = outcome.new
            planned = [_scheduled_event(s) for s in new]
            if outcome.error is not None:
                failure = f"Non-Deterministic workflow detected: {outcome.error}"
            elif outcome.finished and state.get("error") is not None:
                failure = str(state["error"])
            elif outcome.finished and outcome.continued:
                continue_input, carryover = outcome.continue_as_new, outcome.carryover
            elif outcome.finished and state.get("isDone"):
                status, output = "Completed", state.get("output")
            else:
                failure = self._check(outcome, state)
        closing: list[dict[str, Any]] = []
        if failure is not None:
            status, output = "Failed", f"Orchestrator function '{name}' failed: {failure}"
            closing.append(h.event(h.EXECUTION_COMPLETED, OrchestrationStatus="Failed", Result=output))
        elif continue_input is not None:
            completed = h.event(h.EXECUTION_COMPLETED, OrchestrationStatus="ContinuedAsNew", Result=continue_input)
            if carryover:  # kept with the history: a restart before the next execution starts still carries them
                completed[CARRYOVER] = carryover
            closing.append(completed)
        elif status == "Completed":
            closing.append(h.event(h.EXECUTION_COMPLETED, OrchestrationStatus="Completed", Result=json.dumps(output)))
        if "customStatus" in state:
            self.state["customStatus"] = state["customStatus"]
        events = episode + planned + [h.event(h.ORCHESTRATOR_COMPLETED)] + closing
        self.seq += 1
        await self.store.append_history(self.instance_id, self.execution_id, {"seq": self.seq, "events": events})
        self._absorb(events)
        if continue_input is not None:
            await self._switch_execution(continue_input, carryover)
            return
        if status in TERMINAL:
            await self._finish(status, output)
            return
        if self.state["runtimeStatus"] == "Pending":
            self.state["runtimeStatus"] = "Running"
        await self._write_state()
        for item in new:
            self._dispatch(_work(item))

    def _check(self, outcome: shim.Outcome, state: dict[str, Any]) -> str | None:
        """What the extension's in-order replay means for an orchestration still running: actions it has not
        started (the orchestrator waits on tasks Azure runs one after another), or none it ever will (the
        instance would stay Running for ever in Azure). ``durable_checks``: "error" fails the orchestration
        with the finding (tests), "warn" logs it once, naming the orchestrator (``harvest serve``/``run``)."""
        name = self.state["name"]
        stuck = outcome.stuck or (outcome.finished and not state.get("isDone") and state.get("error") is None)
        if outcome.refused:
            shown = "; ".join(outcome.refused[:3]) + (" ..." if len(outcome.refused) > 3 else "")
            finding = (f"devhost: orchestrator '{name}' makes a call the Durable extension refuses: {shown}. In Azure "
                       "nothing is scheduled and no error reaches the orchestrator: it waits on that task for ever, "
                       "and the calls after it get the task ids the SDK gave earlier ones (results reach the wrong "
                       "tasks, as in azure-functions-durable-python#603)")
            stuck = True
        elif stuck:
            finding = (f"devhost: orchestrator '{name}' waits on a task the Durable extension will never start: "
                       "nothing is scheduled or open and it has not finished, so in Azure the instance stays "
                       "Running for ever (the SDK's and the extension's task ids disagree, as in "
                       "azure-functions-durable-python#603)")
        elif outcome.deferred:
            shown = ", ".join(outcome.deferred[:3]) + (" ..." if len(outcome.deferred) > 3 else "")
            finding = (f"devhost: orchestrator '{name}' yielded tasks the Durable extension has not started: it "
                       f"starts actions in order and is still awaiting {outcome.awaiting}; not started: {shown}. "
                       "In Azure these run one after another (yield only new tasks, never a task_any/task_all "
                       "over tasks from an earlier yield)")
        else:
            return None
        mode = self.engine.durable_checks
        if mode == "error":
            return finding
        key = finding.split(":", 2)[1]
        if mode == "warn" and key not in self.reported:
            self.reported.add(key)
            (log.error if stuck else log.warning)("%s [instance %s]", finding, self.instance_id)
        return None

    def _known(self) -> shim.Known:
        index = self.engine.index
        parent = self.state.get("parent") or {}
        return shim.Known.of(index.activities, index.orchestrators, self.instance_id, parent.get("instanceId"))

    async def _replay(self, episode: list[dict[str, Any]]) -> dict[str, Any]:
        """The worker's answer: the SDK's orchestrator state (``isDone``, ``actions``, ``output``,
        ``customStatus``), with ``error`` set when the orchestrator raised (the SDK then still reports its
        actions behind ``$OutOfProcData$``, and the extension replays them before failing the instance) and
        ``fatal`` when no state came back at all."""
        parent = self.state.get("parent") or {}
        body = (
            '{"history":[' + ",".join(self.played + [json.dumps(e) for e in episode]) + "]"
            + ',"instanceId":' + json.dumps(self.instance_id)
            + ',"isReplaying":' + ("true" if self.played else "false")
            + ',"parentInstanceId":' + json.dumps(parent.get("instanceId"))
            + ',"input":' + json.dumps(self.state.get("input"))
            + "," + CONTEXT_FIELDS + "}"
        )
        info = self.engine.index.orchestrator(self.state["name"])
        if info is None:
            return {"error": f"orchestrator function '{self.state['name']}' does not exist", "fatal": True}
        try:
            raw = await self.engine.run_replay(info, body)
        except InvocationError as exc:
            # the worker reports "<Type>: <message>"; the SDK's own failures are plain Exceptions
            text = exc.message.removeprefix("Exception: ")
            message, _, data = text.partition(OUT_OF_PROC_MARK)
            log.info("orchestration %s failed: %s", self.instance_id, message)
            try:
                state = dict(json.loads(data))
            except ValueError:
                return {"error": message, "fatal": True}
            return {**state, "error": message}
        return dict(json.loads(raw))

    # ---- side effects ------------------------------------------------------------------------
    def _dispatch(self, item: tuple[Any, ...]) -> None:
        kind, tid = item[0], item[1]
        if kind == "activity":
            self.engine.spawn(self._activity(tid, item[2], item[3], self.execution_id), f"activity {item[2]}")
        elif kind == "timer":
            self.timer_tasks[tid] = self.engine.spawn(self._timer(tid, item[2], self.execution_id), "timer")
        elif kind == "suborch":
            ref = {"instanceId": self.instance_id, "executionId": self.execution_id, "taskId": tid}
            self.engine.spawn(self.engine.ensure_child(ref, item[2], item[3], item[4]), "sub-orchestration")

    async def _activity(self, tid: int, name: str, input_json: str | None, execution_id: str) -> None:
        ev = await self.engine.run_activity(name, input_json, tid, self.instance_id)
        await self.store.put_result(self.instance_id, execution_id, tid, ev)
        self.post({"type": "event", "event": ev, "exec": execution_id})

    async def _timer(self, tid: int, fire_at: str, execution_id: str) -> None:
        delay = (h.parse_ts(fire_at) - h.utcnow()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        self.post({"type": "event", "event": h.event(h.TIMER_FIRED, TimerId=tid, FireAt=fire_at),
                   "exec": execution_id})

    async def _write_state(self) -> None:
        self.state["lastUpdatedTime"] = h.iso(h.utcnow())
        await self.store.write_state(self.state)

    async def _set_status(self, status: str) -> None:
        self.state["runtimeStatus"] = status
        await self._write_state()

    async def _terminate(self, reason: str) -> None:
        self.seq += 1
        ev = h.event(h.EXECUTION_TERMINATED, Input=json.dumps(reason))
        await self.store.append_history(self.instance_id, self.execution_id, {"seq": self.seq, "events": [ev]})
        self._absorb([ev])
        await self._finish("Terminated", reason)

    async def _switch_execution(self, new_input: str | None, carryover: list[dict[str, Any]]) -> None:
        """The next execution, started at once (``TaskOrchestrationDispatcher``: ``while (continuedAsNew)``)
        with the carried-over events after its ExecutionStarted."""
        old_execution = self.execution_id
        for timer in self.timer_tasks.values():
            timer.cancel()
        self._reset_execution()
        self.state.update(executionId=uuid.uuid4().hex,  # Guid.NewGuid().ToString("N")
                          input=new_input, runtimeStatus="Running", output=None)
        await self.store.create_history(self.instance_id, self.execution_id)
        await self._write_state()
        prefix = self.store.prefix(self.instance_id)
        self.engine.spawn(self.store.delete_blob(f"{prefix}history-{old_execution}.jsonl"), "cleanup")
        self.engine.spawn(self.store.delete_prefix(self.store.results_prefix(self.instance_id, old_execution)),
                          "cleanup")
        await self._episode([{"type": "event", "event": {**ev, "IsPlayed": False}} for ev in carryover])

    async def _finish(self, status: str, output: Any) -> None:
        for timer in self.timer_tasks.values():
            timer.cancel()
        self.timer_tasks.clear()
        self.state.update(runtimeStatus=status, output=output)
        await self._write_state()
        log.info("orchestration %s (%s) %s", self.instance_id, self.state["name"], status.lower())
        self.engine.notify_parent(self.state)
        self.engine.spawn(self.store.delete_prefix(self.store.results_prefix(self.instance_id, self.execution_id)),
                          "cleanup")
        self.engine.forget(self)


def _top_level(actions: Any) -> list[dict[str, Any]] | None:
    """The schema-V2/V3 action list: one list in the outer layer (``ReplayOOProcOrchestration`` refuses others)."""
    if not actions:
        return []
    if isinstance(actions, list) and len(actions) == 1 and isinstance(actions[0], list):
        return [a for a in actions[0] if isinstance(a, dict)]
    return None


def _scheduled_event(s: shim.Scheduled) -> dict[str, Any]:
    if s.kind == "activity":
        return h.event(h.TASK_SCHEDULED, s.id, Name=s.name, Input=s.input)
    if s.kind == "timer":
        return h.event(h.TIMER_CREATED, s.id, FireAt=s.fire_at)
    return h.event(h.SUB_ORCHESTRATION_CREATED, s.id, Name=s.name, Input=s.input, InstanceId=s.instance_id)


def _work(s: shim.Scheduled) -> tuple[Any, ...]:
    if s.kind == "activity":
        return ("activity", s.id, s.name, s.input)
    if s.kind == "timer":
        return ("timer", s.id, s.fire_at)
    return ("suborch", s.id, s.name, s.input, s.instance_id)


def _terminal_status(ev: dict[str, Any], name: str) -> tuple[str, Any]:
    if ev["EventType"] == h.EXECUTION_TERMINATED:
        return "Terminated", json.loads(ev.get("Input") or "null")
    status = ev.get("OrchestrationStatus", "Completed")
    if status == "Completed":
        return status, json.loads(ev.get("Result") or "null")
    return status, ev.get("Result")

"""The orchestration engine: owns the instance runners, runs activities and replays."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from . import history as h
from .functions import FunctionIndex, FunctionInfo, FunctionTimeoutError, Invoker, instance_id_error
from .runner import TERMINAL, InstanceRunner
from .store import InstanceStore
from .worker import InvocationError

log = logging.getLogger("harvest.devhost")


DURABLE_CHECKS = ("error", "warn", "off")


class UnknownFunctionError(Exception):
    pass


class InvalidInstanceIdError(ValueError):
    """An instance id the Durable extension refuses (``DurableClient.StartNewAsync``)."""


class InstanceExistsError(Exception):
    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__(
            f"An orchestration with instance ID '{state['instanceId']}' already exists "
            f"and is {state['runtimeStatus']}."
        )
        self.state = state


class Engine:
    def __init__(self, index: FunctionIndex, store: InstanceStore, *, max_concurrent_activities: int,
                 max_concurrent_orchestrations: int, client_json: Callable[[], str],
                 function_timeout: float | None = None, durable_checks: str = "error") -> None:
        """``durable_checks``: what to do when an orchestrator yields tasks the Durable extension would not start
        now, or waits on one it never will (``InstanceRunner._check``): "error" fails the orchestration with
        the finding, "warn" logs it naming the orchestrator, "off" says nothing. Either way the actions run as
        the extension runs them."""
        if durable_checks not in DURABLE_CHECKS:
            raise ValueError(f"durable_checks must be one of {', '.join(DURABLE_CHECKS)}")
        self.durable_checks = durable_checks
        self.index = index
        self.store = store
        self.client_json = client_json
        self.invoker = Invoker(index, client_json, function_timeout)
        self.runners: dict[str, InstanceRunner] = {}
        self.activity_slots = asyncio.Semaphore(max_concurrent_activities)
        self.replay_slots = asyncio.Semaphore(max_concurrent_orchestrations)
        self.tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self.stopping = False

    # ---- background task bookkeeping -------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=what)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None and not self.stopping:
            log.error("devhost task %r failed", task.get_name(), exc_info=exc)

    async def stop(self) -> None:
        self.stopping = True
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _lock(self, instance_id: str) -> asyncio.Lock:
        return self._locks.setdefault(instance_id, asyncio.Lock())

    # ---- instances ------------------------------------------------------------------------------
    async def get_state(self, instance_id: str) -> dict[str, Any] | None:
        runner = self.runners.get(instance_id)
        if runner is not None:
            return runner.state
        return await self.store.read_state(instance_id)

    async def start_instance(self, name: str, input_json: str | None, instance_id: str | None = None,
                             parent: dict[str, Any] | None = None) -> str:
        if self.index.orchestrator(name) is None:  # FunctionName: ignoring case
            raise UnknownFunctionError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            )
        instance_id = instance_id or uuid.uuid4().hex
        if (bad := instance_id_error(instance_id)) is not None:
            raise InvalidInstanceIdError(bad)
        async with self._lock(instance_id):
            existing = await self.get_state(instance_id)
            if existing is not None and existing["runtimeStatus"] not in TERMINAL:
                raise InstanceExistsError(existing)
            if existing is not None:
                await self.store.delete_instance(instance_id)
            now = h.iso(h.utcnow())
            state: dict[str, Any] = {
                "instanceId": instance_id, "name": name, "executionId": uuid.uuid4().hex,
                "runtimeStatus": "Pending", "input": input_json, "output": None, "customStatus": None,
                "createdTime": now, "lastUpdatedTime": now, "parent": parent,
            }
            await self.store.write_state(state)  # first: a state without history is restartable
            await self.store.create_history(instance_id, state["executionId"])
            runner = InstanceRunner(self, state)
            self.runners[instance_id] = runner
            runner.start()
        log.info("started orchestration %s (%s)", instance_id, name)
        return instance_id

    def forget(self, runner: InstanceRunner) -> None:
        if self.runners.get(runner.instance_id) is runner:
            del self.runners[runner.instance_id]

    async def send(self, instance_id: str, message: dict[str, Any]) -> int:
        """Durably queue a message (event/terminate/suspend/resume). Returns an HTTP status."""
        state = await self.get_state(instance_id)
        if state is None:
            return 404
        if state["runtimeStatus"] in TERMINAL:
            return 410
        message = {**message, "id": uuid.uuid4().hex}
        if message["type"] == "event":
            message["event"]["MessageId"] = message["id"]
        name = await self.store.put_message(instance_id, message)
        runner = self.runners.get(instance_id)
        if runner is not None:
            runner.post({**message, "inbox": name})
        return 202

    async def raise_event(self, instance_id: str, event_name: str, data_json: str | None) -> int:
        ev = h.event(h.EVENT_RAISED, Name=event_name, Input=data_json)
        return await self.send(instance_id, {"type": "event", "event": ev})

    async def purge(self, instance_id: str) -> bool:
        async with self._lock(instance_id):
            runner = self.runners.pop(instance_id, None)
            if runner is not None and runner.task is not None:
                runner.task.cancel()
                for timer in runner.timer_tasks.values():
                    timer.cancel()
            if runner is None and await self.store.read_state(instance_id) is None:
                return False
            await self.store.delete_instance(instance_id)
            return True

    async def resume_all(self) -> int:
        """Load every non-terminal instance from Blob and continue it."""
        summaries = await self.store.list_state_summaries()
        ids = [iid for iid, md in summaries if md.get("runtimeStatus") not in TERMINAL]
        states = await self.store.read_states(ids)
        runners = [InstanceRunner(self, st) for st in states if st["runtimeStatus"] not in TERMINAL]
        for runner in runners:
            self.runners[runner.instance_id] = runner
        for runner in runners:
            await runner.load()
        resumed = 0
        for runner in runners:
            if not runner.done:
                runner.start()
                resumed += 1
        if resumed:
            log.info("resumed %d orchestration instance(s) from storage", resumed)
        return resumed

    # ---- sub-orchestrations ----------------------------------------------------------------------
    async def ensure_child(self, ref: dict[str, Any], name: str, input_json: str | None, child_id: str) -> None:
        existing = await self.get_state(child_id)
        if existing is not None and existing.get("parent") == ref:
            if existing["runtimeStatus"] in TERMINAL:
                self.notify_parent(existing)
            return  # already created before a restart; it is running (or resumed) on its own
        try:
            await self.start_instance(name, input_json, child_id, parent=ref)
        except (UnknownFunctionError, InstanceExistsError, InvalidInstanceIdError) as exc:
            ev = h.event(h.SUB_ORCHESTRATION_FAILED, TaskScheduledId=ref["taskId"], Reason=str(exc), Details="")
            self.deliver(ref, ev)

    def notify_parent(self, state: dict[str, Any]) -> None:
        ref = state.get("parent")
        if not ref:
            return
        if state["runtimeStatus"] == "Completed":
            ev = h.event(h.SUB_ORCHESTRATION_COMPLETED, TaskScheduledId=ref["taskId"],
                         Result=json.dumps(state.get("output")))
        else:
            # DTFx (TaskOrchestrationDispatcher): a Failed or Terminated sub-orchestration sends its parent
            # SubOrchestrationInstanceFailedEvent(Reason = its result). A terminated one's result is the reason
            # given to terminate, as given; it has no details.
            terminated = state["runtimeStatus"] == "Terminated"
            ev = h.event(h.SUB_ORCHESTRATION_FAILED, TaskScheduledId=ref["taskId"], Reason=str(state.get("output")),
                         Details=None if terminated else "")
        self.deliver(ref, ev)

    def deliver(self, ref: dict[str, Any], ev: dict[str, Any]) -> None:
        runner = self.runners.get(ref["instanceId"])
        if runner is not None:
            runner.post({"type": "event", "event": ev, "exec": ref["executionId"]})

    # ---- function execution ----------------------------------------------------------------------
    async def run_replay(self, info: FunctionInfo, context_json: str) -> str:
        """One orchestrator episode through the worker (maxConcurrentOrchestratorFunctions at a time)."""
        async with self.replay_slots:
            return await self.invoker.orchestrator(info, context_json)

    async def run_activity(self, name: str, input_json: str | None, task_id: int,
                           instance_id: str = "") -> dict[str, Any]:
        info = self.index.activity(name)
        if info is None:
            reason = f"The activity function '{name}' doesn't exist, is disabled, or is not an activity function."
            return h.task_failed(task_id, reason, "")
        async with self.activity_slots:  # maxConcurrentActivityFunctions
            try:
                output = await self.invoker.activity(info, input_json, instance_id)
            except InvocationError as exc:
                log.warning("activity %s failed: %s", name, exc.message)
                return h.task_failed(task_id, f"Activity function '{name}' failed: {exc.message}", exc.stack_trace)
            except FunctionTimeoutError as exc:
                log.warning("activity %s: %s", name, exc)
                return h.task_failed(task_id, f"Activity function '{name}' failed: FunctionTimeoutException: {exc}",
                                     "")
        return h.event(h.TASK_COMPLETED, TaskScheduledId=task_id, Result=output)

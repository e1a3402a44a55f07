"""A tiny DFApp (not Harvest's) whose orchestrators exercise one Durable feature each."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
import typing
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

TIMER_CALLS: list[bool] = []


def record(directory: str, key: str, what: str) -> None:
    """Append one line to a side file: proves how often an activity ran."""
    with open(Path(directory) / f"{key}.log", "a", encoding="utf-8") as fh:
        fh.write(what + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# Azure's worker accepts only a class or a typing generic as a binding annotation (not dict[str, Any]).
Payload = typing.Dict[str, Any]  # noqa: UP006


def create_app() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    # ---- HTTP ----------------------------------------------------------------------------
    @app.route(route="orchestrators/{name}/{instance_id?}", methods=["POST"])
    @app.durable_client_input(client_name="client")
    async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        body = req.get_body()
        payload = json.loads(body) if body else None
        iid = await client.start_new(req.route_params["name"], req.route_params.get("instance_id"), payload)
        return client.create_check_status_response(req, iid)

    @app.route(route="runs/{instance_id}", methods=["GET"])
    @app.durable_client_input(client_name="client")
    async def run_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        status = await client.get_status(req.route_params["instance_id"])
        if not status:
            return func.HttpResponse(json.dumps({"error": "not found"}), status_code=404,
                                     mimetype="application/json")
        body = {"status": status.runtime_status.value, "output": status.output, "q": req.params.get("q")}
        return func.HttpResponse(json.dumps(body), mimetype="application/json", headers={"X-Sample": "1"})

    @app.route(route="echo", methods=["POST", "PUT"])
    def echo_http(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(req.get_body(), status_code=201, mimetype="text/plain")

    @app.route(route="explode")
    def explode(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("secret internals")

    # ---- timer -----------------------------------------------------------------------------
    @app.timer_trigger(schedule="%SAMPLE_TIMER_SCHEDULE%", arg_name="timer", run_on_startup=False)
    @app.durable_client_input(client_name="client")
    async def tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
        TIMER_CALLS.append(timer.past_due)
        await client.start_new("fan_out", f"tick-{len(TIMER_CALLS)}-{time.time_ns()}", 2)

    # ---- activities ------------------------------------------------------------------------
    @app.activity_trigger(input_name="n")
    def double(n: int) -> int:
        return n * 2

    @app.activity_trigger(input_name="value")
    async def echo(value: Any) -> Any:
        return value

    @app.activity_trigger(input_name="payload")
    async def slow_value(payload: Payload) -> Any:
        await asyncio.sleep(payload["s"])
        return payload["v"]

    @app.activity_trigger(input_name="payload")
    def flaky(payload: Payload) -> str:
        path = Path(payload["dir"]) / f"{payload['key']}.attempts"
        attempts = int(path.read_text()) + 1 if path.exists() else 1
        path.write_text(str(attempts))
        if attempts <= payload["fail_times"]:
            raise ConnectionError(f"transient failure {attempts}")
        return f"ok after {attempts}"

    @app.activity_trigger(input_name="payload")
    def boom(payload: Any) -> None:
        raise ValueError("boom from activity")

    @app.activity_trigger(input_name="payload")
    def timed(payload: Payload) -> str:
        """Sleeps, and records when it ran: the tests read which activities overlapped."""
        began = time.time()
        time.sleep(payload["s"])
        with open(Path(payload["dir"]) / "timed.log", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": payload["key"], "start": began, "end": time.time()}) + "\n")
        return str(payload["key"])

    @app.activity_trigger(input_name="payload")
    def flaky_slow(payload: Payload) -> str:
        """Fails its first ``fail_times`` attempts, each after ``s`` seconds."""
        time.sleep(payload["s"])
        path = Path(payload["dir"]) / f"{payload['key']}.attempts"
        attempts = int(path.read_text()) + 1 if path.exists() else 1
        path.write_text(str(attempts))
        if attempts <= payload["fail_times"]:
            raise ConnectionError(f"transient failure {attempts}")
        return f"ok after {attempts}"

    @app.activity_trigger(input_name="payload")
    def slow_record(payload: Payload) -> str:
        record(payload["dir"], payload["key"], "start")
        time.sleep(payload["s"])
        record(payload["dir"], payload["key"], "end")
        return payload["key"].upper()

    # ---- orchestrators ---------------------------------------------------------------------
    @app.orchestration_trigger(context_name="context")
    def fan_out(context: df.DurableOrchestrationContext):
        n = context.get_input() or 0
        results = yield context.task_all([context.call_activity("double", i) for i in range(n)])
        return sum(results)

    @app.orchestration_trigger(context_name="context")
    def chain(context: df.DurableOrchestrationContext):
        total = 0
        for i in range(context.get_input()):
            total += yield context.call_activity("double", i)
        return total

    @app.orchestration_trigger(context_name="context")
    def race(context: df.DurableOrchestrationContext):
        slow = context.call_activity("slow_value", {"s": 1.0, "v": "slow"})
        fast = context.call_activity("echo", "fast")
        winner = yield context.task_any([slow, fast])
        return {"winner": winner.result, "is_fast": winner == fast}

    @app.orchestration_trigger(context_name="context")
    def retry_orch(context: df.DurableOrchestrationContext):
        payload = context.get_input()
        opts = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=3)
        try:
            result = yield context.call_activity_with_retry("flaky", opts, payload)
        except Exception as exc:
            return {"failed": str(exc).splitlines()[0]}
        return {"result": result}

    @app.orchestration_trigger(context_name="context")
    def mixed_retry(context: df.DurableOrchestrationContext):
        """Retries interleaved with other completions: results must land on the right tasks."""
        payload = context.get_input()
        opts = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=4)
        a = context.call_activity_with_retry("flaky", opts, payload)
        b = context.call_activity("slow_value", {"s": 0.15, "v": "B"})
        timer = context.create_timer(context.current_utc_datetime + dt.timedelta(milliseconds=120))
        first = yield context.task_any([b, timer])
        c = yield context.call_activity("echo", "C")
        rest = yield context.task_all([a, b, context.call_activity("double", 21)])
        d = yield context.call_activity("echo", "D")
        return {"first_is_timer": first == timer, "c": c, "rest": rest, "d": d}

    @app.orchestration_trigger(context_name="context")
    def parent_orch(context: df.DurableOrchestrationContext):
        results = yield context.task_all([
            context.call_sub_orchestrator("fan_out", 3),
            context.call_sub_orchestrator("fan_out", 4, instance_id=f"{context.instance_id}:child"),
        ])
        failed = None
        try:
            yield context.call_sub_orchestrator("fail_orch", None)
        except Exception as exc:
            failed = "boom from activity" in str(exc)
        return {"results": results, "child_failure_seen": failed}

    @app.orchestration_trigger(context_name="context")
    def timer_orch(context: df.DurableOrchestrationContext):
        start = context.current_utc_datetime
        yield context.create_timer(start + dt.timedelta(seconds=1))
        return (context.current_utc_datetime - start).total_seconds()

    @app.orchestration_trigger(context_name="context")
    def event_orch(context: df.DurableOrchestrationContext):
        context.set_custom_status("waiting")
        approval = context.wait_for_external_event("approve")
        timeout = context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=30))
        winner = yield context.task_any([approval, timeout])
        if winner == approval:
            timeout.cancel()
            context.set_custom_status("approved")
            extra = yield context.wait_for_external_event("second")
            return {"approved": approval.result, "second": extra}
        return "timed out"

    @app.orchestration_trigger(context_name="context")
    def counter_orch(context: df.DurableOrchestrationContext):
        n = context.get_input()
        context.set_custom_status({"n": n})
        if n < 3:
            yield context.call_activity("double", n)
            context.continue_as_new(n + 1)
            return None
        return {"final": n, "execution_seen_history_reset": len(context.histories) < 10}

    @app.orchestration_trigger(context_name="context")
    def fail_orch(context: df.DurableOrchestrationContext):
        yield context.call_activity("boom", None)
        return "unreachable"

    @app.orchestration_trigger(context_name="context")
    def raise_orch(context: df.DurableOrchestrationContext):
        value = yield context.call_activity("echo", 1)
        raise ValueError(f"orchestrator says no ({value})")

    @app.orchestration_trigger(context_name="context")
    def wait_forever(context: df.DurableOrchestrationContext):
        context.set_custom_status({"phase": "waiting"})
        value = yield context.wait_for_external_event("go")
        doubled = yield context.call_activity("double", value)
        return doubled

    @app.orchestration_trigger(context_name="context")
    def sliding_window(context: df.DurableOrchestrationContext):
        """The pattern Azure runs serially: a task_any window over tasks from earlier yields plus one new."""
        cfg = context.get_input()
        queue = [context.call_activity("timed", {"dir": cfg["dir"], "key": f"t{i}", "s": s})
                 for i, s in enumerate(cfg["seconds"])]
        running, done = queue[: cfg["window"]], []
        queue = queue[cfg["window"]:]
        while running:
            winner = yield context.task_any(running)
            running.remove(winner)
            done.append(winner.result)
            if queue:
                running.append(queue.pop(0))
        return done

    @app.orchestration_trigger(context_name="context")
    def lanes(context: df.DurableOrchestrationContext):
        """The shape Azure runs in parallel: each yield hands over only new tasks (a sub-orchestration per lane)."""
        cfg = context.get_input()
        shares = [cfg["seconds"][i:: cfg["window"]] for i in range(cfg["window"])]
        keys = [list(range(len(cfg["seconds"])))[i:: cfg["window"]] for i in range(cfg["window"])]
        lanes = [context.call_sub_orchestrator("lane", {"dir": cfg["dir"], "seconds": s, "keys": k})
                 for s, k in zip(shares, keys, strict=True)]
        return [key for lane in (yield context.task_all(lanes)) for key in lane]

    @app.orchestration_trigger(context_name="context")
    def lane(context: df.DurableOrchestrationContext):
        cfg = context.get_input()
        out = []
        for key, s in zip(cfg["keys"], cfg["seconds"], strict=True):
            out.append((yield context.call_activity("timed", {"dir": cfg["dir"], "key": f"t{key}", "s": s})))
        return out

    @app.orchestration_trigger(context_name="context")
    def retry_window(context: df.DurableOrchestrationContext):
        """azure-functions-durable-python#603's shape: a retried activity in a task_any window that keeps
        taking new tasks. Returns what each completion delivered, in order."""
        cfg = context.get_input()
        opts = df.RetryOptions(first_retry_interval_in_milliseconds=cfg["retry_ms"], max_number_of_attempts=3)
        running = [context.call_activity("slow_value", {"s": cfg["x0"], "v": "x0"}),
                   context.call_activity("slow_value", {"s": cfg["x1"], "v": "x1"}),
                   context.call_activity_with_retry("flaky_slow", opts, {
                       "dir": cfg["dir"], "key": cfg["key"], "s": cfg["a"], "fail_times": 1})]
        later = [("c", cfg["c"]), ("d", cfg["d"])]
        seen = []
        while running:
            winner = yield context.task_any(running)
            running.remove(winner)
            seen.append(winner.result)
            if later:
                name, seconds = later.pop(0)
                running.append(context.call_activity("slow_value", {"s": seconds, "v": name}))
        return seen

    @app.orchestration_trigger(context_name="context")
    def poll_or_event(context: df.DurableOrchestrationContext):
        """The monitor loop Azure runs as written: each round waits for 'go' or a poll, whichever first; a
        poll that wins leaves its round's wait behind. The extension and the SDK both give 'go' to the newest
        wait of that name."""
        cfg = context.get_input()
        rounds = 0
        while True:
            rounds += 1
            go = context.wait_for_external_event("go")
            poll = context.call_activity("slow_value", {"s": cfg["poll_s"][min(rounds, len(cfg["poll_s"])) - 1],
                                                        "v": rounds})
            context.set_custom_status({"round": rounds})
            winner = yield context.task_any([go, poll])
            if winner == go:
                break
        after = yield context.call_activity("echo", "after")
        return {"rounds": rounds, "go": go.result, "after": after}

    @app.orchestration_trigger(context_name="context")
    def calls_unknown(context: df.DurableOrchestrationContext):
        """Calls an activity this app does not have, expecting a failure it can catch (Azure gives none)."""
        try:
            yield context.call_activity(context.get_input() or "no_such_activity", 1)
        except Exception as exc:
            return {"failed": str(exc).splitlines()[0]}
        return "unreachable"

    @app.orchestration_trigger(context_name="context")
    def calls_by_name(context: df.DurableOrchestrationContext):
        """Calls an activity and a sub-orchestrator by the names given, as written (case and all)."""
        cfg = context.get_input()
        doubled = yield context.call_activity(cfg["activity"], 21)
        total = yield context.call_sub_orchestrator(cfg["orchestrator"], 3)
        return [doubled, total]

    @app.orchestration_trigger(context_name="context")
    def carry_over(context: df.DurableOrchestrationContext):
        """Continues as new while a task it started is still running; the next execution waits for 'go'."""
        cfg = context.get_input()
        if cfg.get("round", 0) == 0:
            yield context.task_any([context.call_activity("echo", "fast"),
                                    context.call_activity("slow_value", {"s": cfg["slow_s"], "v": "slow"})])
            context.set_custom_status("continuing")
            context.continue_as_new({**cfg, "round": 1})
            return None
        context.set_custom_status("waiting")
        return (yield context.wait_for_external_event("go"))

    @app.orchestration_trigger(context_name="context")
    def old_tasks_again(context: df.DurableOrchestrationContext):
        """Yields tasks it yielded before (done or still running): the SDK sends no new action for them."""
        a = context.call_activity("double", 1)
        b = context.call_activity("slow_value", {"s": 0.3, "v": "b"})
        first = yield context.task_any([a, b])  # a wins; b still runs
        again = yield a  # done: no action
        both = yield context.task_all([a, b])  # old tasks only, b still running: no action, waits for b
        last = yield context.task_all([a, b])  # old and done
        return [first.result, again, both, last]

    @app.orchestration_trigger(context_name="context")
    def whoami(context: df.DurableOrchestrationContext):
        return context.instance_id

    @app.orchestration_trigger(context_name="context")
    def unnamed_child_next_execution(context: df.DurableOrchestrationContext):
        """Continues as new once, then calls a sub-orchestration without an instance id: its id is DTFx's."""
        if not context.get_input():
            context.continue_as_new(1)
            return None
        return (yield context.call_sub_orchestrator("whoami", None))

    @app.orchestration_trigger(context_name="context")
    def parent_of_waiter(context: df.DurableOrchestrationContext):
        """Calls ``wait_forever`` as a sub-orchestration and returns how its failure read."""
        try:
            return (yield context.call_sub_orchestrator("wait_forever", None, f"{context.instance_id}:child"))
        except Exception as exc:
            return {"error": str(exc)}

    @app.orchestration_trigger(context_name="context")
    def context_fields(context: df.DurableOrchestrationContext):
        """What the SDK made of the context the host sent."""
        return {"schema": context._replay_schema.value,
                "max_short_timer_s": context._maximum_short_timer_duration.total_seconds(),
                "long_timer_interval_s": context._long_timer_interval_duration.total_seconds()}

    @app.orchestration_trigger(context_name="context")
    def slow_steps(context: df.DurableOrchestrationContext):
        """Several slow activities in waves: the crash-resume test kills the host mid-way."""
        cfg = context.get_input()
        out = []
        for wave in range(cfg["waves"]):
            keys = [f"w{wave}a{i}" for i in range(cfg["width"])]
            out += yield context.task_all([
                context.call_activity("slow_record", {"dir": cfg["dir"], "key": k, "s": cfg["s"]}) for k in keys
            ])
            context.set_custom_status({"wave": wave})
        return out

    return app


app = create_app()

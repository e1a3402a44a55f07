"""``devhost.shim``: the extension's replay of an orchestrator's actions, checked event by event against what
``OutOfProcOrchestrationShim.ProcessAsyncActionsV2``, DTFx's ``TaskOrchestrationContext`` and its
``RetryInterceptor`` do (sources cited in devhost/shim.py and docs/local-host.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from devhost import history as h
from devhost import shim

T0 = dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.UTC)


def act(name: str) -> dict[str, Any]:
    return {"actionType": shim.CALL_ACTIVITY, "functionName": name, "input": "null"}


def retry(name: str, first_ms: int = 1000, attempts: int = 3, **more: Any) -> dict[str, Any]:
    return {"actionType": shim.CALL_ACTIVITY_RETRY, "functionName": name, "input": "null",
            "retryOptions": {"firstRetryIntervalInMilliseconds": first_ms, "maxNumberOfAttempts": attempts, **more}}


def any_of(*children: dict[str, Any]) -> dict[str, Any]:
    return {"actionType": shim.WHEN_ANY, "compoundActions": list(children)}


def all_of(*children: dict[str, Any]) -> dict[str, Any]:
    return {"actionType": shim.WHEN_ALL, "compoundActions": list(children)}


class History:
    """A history built episode by episode: each ``episode`` replays the actions and records what the
    extension scheduled, as the local host does."""

    def __init__(self, known: shim.Known | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.clock = T0
        self.known = known

    def episode(self, actions: list[dict[str, Any]], *delivered: dict[str, Any],
                advance_s: float = 1.0) -> shim.Outcome:
        self.clock += dt.timedelta(seconds=advance_s)
        new = [h.event(h.ORCHESTRATOR_STARTED, ts=self.clock)]
        if not self.events:
            new.append(h.execution_started("orch", "null", None))
        new.extend(delivered)
        outcome = shim.replay(self.events + new, actions, execution_id="e1", known=self.known)
        for s in outcome.new:
            if s.kind == "activity":
                new.append(h.event(h.TASK_SCHEDULED, s.id, Name=s.name))
            elif s.kind == "timer":
                new.append(h.event(h.TIMER_CREATED, s.id, FireAt=s.fire_at))
            else:
                new.append(h.event(h.SUB_ORCHESTRATION_CREATED, s.id, Name=s.name, InstanceId=s.instance_id))
        self.events += [*new, h.event(h.ORCHESTRATOR_COMPLETED)]
        return outcome


def done(tid: int, result: str = '"ok"') -> dict[str, Any]:
    return h.event(h.TASK_COMPLETED, TaskScheduledId=tid, Result=result)


def failed(tid: int) -> dict[str, Any]:
    return h.task_failed(tid, "boom", "")


def fired(tid: int) -> dict[str, Any]:
    return h.event(h.TIMER_FIRED, TimerId=tid)


def ids(outcome: shim.Outcome) -> list[tuple[int, str, str | None]]:
    return [(s.id, s.kind, s.name) for s in outcome.new]


def test_actions_start_in_order_each_after_the_previous_completed() -> None:
    hist = History()
    assert ids(hist.episode([act("a")])) == [(0, "activity", "a")]
    out = hist.episode([act("a"), act("b")], done(0))
    assert ids(out) == [(1, "activity", "b")] and not out.deferred


def test_a_sliding_task_any_window_reaches_azure_one_task_at_a_time() -> None:
    """task_any([b, c, d]) after a completed is sent as WhenAny[d]: the extension awaits d alone."""
    hist = History()
    window = any_of(act("a"), act("b"), act("c"))
    assert [i for i, _, _ in ids(hist.episode([window]))] == [0, 1, 2]
    out = hist.episode([window, any_of(act("d"))], done(0))
    assert ids(out) == [(3, "activity", "d")]
    out = hist.episode([window, any_of(act("d")), any_of(act("e"))], done(1))
    assert out.new == [] and out.deferred == ["WhenAny[CallActivity 'e']"]
    assert out.awaiting == "WhenAny[CallActivity 'd']"
    out = hist.episode([window, any_of(act("d")), any_of(act("e"))], done(3))
    assert ids(out) == [(4, "activity", "e")] and not out.deferred


def test_when_all_waits_for_every_child_and_when_any_for_one() -> None:
    hist = History()
    hist.episode([all_of(act("a"), act("b")), act("c")])
    assert hist.episode([all_of(act("a"), act("b")), act("c")], done(1)).new == []
    assert ids(hist.episode([all_of(act("a"), act("b")), act("c")], failed(0))) == [(2, "activity", "c")]


def test_retry_interceptor_timers_and_attempts_take_ids_when_the_failure_is_replayed() -> None:
    hist = History()
    assert ids(hist.episode([retry("f", first_ms=2000, attempts=3)])) == [(0, "activity", "f")]
    out = hist.episode([retry("f", first_ms=2000, attempts=3)], failed(0))
    assert ids(out) == [(1, "timer", None)]
    assert h.parse_ts(out.new[0].fire_at or "") == hist.clock + dt.timedelta(seconds=2)
    assert ids(hist.episode([retry("f", first_ms=2000, attempts=3)], fired(1))) == [(2, "activity", "f")]
    out = hist.episode([retry("f", first_ms=2000, attempts=3)], failed(2))
    assert ids(out) == [(3, "timer", None)]
    hist.episode([retry("f", first_ms=2000, attempts=3)], fired(3))
    out = hist.episode([retry("f", first_ms=2000, attempts=3)], failed(4))
    # after the last attempt: the back-compat timer that fires at once, then the call fails
    assert ids(out) == [(5, "timer", None)] and h.parse_ts(out.new[0].fire_at or "") == hist.clock
    out = hist.episode([retry("f", first_ms=2000, attempts=3)], fired(5))
    assert out.finished and out.new == []


def test_retry_backoff_is_capped_by_the_max_interval() -> None:
    hist = History()
    action = retry("f", first_ms=1000, attempts=5, backoffCoefficient=3, maxRetryIntervalInMilliseconds=5000)
    hist.episode([action])
    delays = []
    tid = 0
    for _ in range(3):
        out = hist.episode([action], failed(tid))
        delays.append((h.parse_ts(out.new[0].fire_at or "") - hist.clock).total_seconds())
        timer = out.new[0].id
        tid = hist.episode([action], fired(timer)).new[0].id
    assert delays == [1.0, 3.0, 5.0]


def test_a_retry_inside_a_window_takes_the_id_the_sdk_gave_a_later_task() -> None:
    """azure-functions-durable-python#603: the SDK counted d (id 4) when it was yielded; the extension has
    not invoked d (it awaits c) and gives id 4 to a's retry timer, so TimerFired(4) reaches the SDK's d."""
    hist = History()
    first = any_of(act("x0"), act("x1"), retry("a", first_ms=200, attempts=3))
    hist.episode([first])
    assert ids(hist.episode([first, any_of(act("c"))], done(0))) == [(3, "activity", "c")]
    out = hist.episode([first, any_of(act("c")), any_of(act("d"))], done(1))
    assert out.new == [] and out.deferred  # the SDK now counts d as 4
    out = hist.episode([first, any_of(act("c")), any_of(act("d"))], failed(2))
    assert ids(out) == [(4, "timer", None)]  # the SDK's retry timer is 5


def test_history_that_disagrees_with_the_replay_is_non_deterministic() -> None:
    hist = History()
    hist.episode([act("a")])
    out = shim.replay(hist.events, [act("b")], execution_id="e1")
    assert out.error is not None and "sequence ID 0" in out.error and "'a'" in out.error


def test_an_orchestration_ends_only_when_no_task_is_open() -> None:
    """WhenAny[a, b] answered by a: the orchestrator may return, the extension still waits for b."""
    hist = History()
    hist.episode([any_of(act("a"), act("b"))])
    out = hist.episode([any_of(act("a"), act("b"))], done(0))
    assert not out.finished and out.open_ids == {1}
    assert hist.episode([any_of(act("a"), act("b"))], done(1)).finished


def test_continue_as_new_and_cancelled_timers() -> None:
    hist = History()
    timer = {"actionType": shim.CREATE_TIMER, "fireAt": h.iso(T0 + dt.timedelta(hours=1)), "isCanceled": False}
    event = {"actionType": shim.WAIT_FOR_EVENT, "externalEventName": "go"}
    hist.episode([any_of(event, timer)])
    cancelled = {**timer, "isCanceled": True}
    out = hist.episode([any_of(event, cancelled), {"actionType": shim.CONTINUE_AS_NEW, "input": '"next"'}],
                       h.event(h.EVENT_RAISED, Name="go", Input="1"))
    assert out.finished and out.continued and out.continue_as_new == '"next"'
    assert out.open_ids == set()  # the cancelled timer no longer holds the orchestration


def test_events_raised_before_the_wait_are_buffered() -> None:
    hist = History()
    wait = {"actionType": shim.WAIT_FOR_EVENT, "externalEventName": "go"}
    hist.episode([act("a")], h.event(h.EVENT_RAISED, Name="go", Input="1"))
    out = hist.episode([act("a"), wait, act("b")], done(0))
    assert ids(out) == [(1, "activity", "b")]


def test_stuck_when_nothing_is_open_or_new() -> None:
    hist = History()
    hist.episode([act("a")])
    out = hist.episode([act("a")], done(0))
    assert out.finished and out.new == [] and not out.stuck  # finished: the host decides by isDone
    waiting = hist.episode([act("a"), {"actionType": shim.WAIT_FOR_EVENT, "externalEventName": "go"}])
    assert waiting.waiting_for_event and not waiting.stuck
    assert shim.Outcome().stuck


@pytest.mark.parametrize(("action", "message"), [
    ({"actionType": shim.CALL_ENTITY, "instanceId": "@e@k"}, "durable entities"),
    ({"actionType": 99}, "unexpected action type"),
])
def test_unsupported_actions_are_named(action: dict[str, Any], message: str) -> None:
    assert message in (shim.unsupported([all_of(act("a"), action)]) or "")


def test_sub_orchestrations_without_an_id_are_named_by_execution_and_task() -> None:
    hist = History()
    out = hist.episode([{"actionType": shim.CALL_SUB, "functionName": "child", "input": "1", "instanceId": None},
                        ])
    assert out.new[0].instance_id == "e1:0"
    out = History().episode([all_of(sub("child", ""), sub("child", "  "))])
    assert [s.instance_id for s in out.new] == ["e1:0", "e1:1"]


def wait(name: str) -> dict[str, Any]:
    return {"actionType": shim.WAIT_FOR_EVENT, "externalEventName": name}


def raised(name: str) -> dict[str, Any]:
    return h.event(h.EVENT_RAISED, Name=name, Input="1")


def test_an_event_goes_to_the_newest_waiter_of_its_name() -> None:
    """``DurableOrchestrationContext.WaitForExternalEvent`` keeps a *stack* per name ("to make it easier for
    users to abandon external events ... the common case is a Task.WhenAny in a loop") and ``RaiseEvent``
    resolves its head; the SDK pops the newest of ``open_tasks[name]`` too. A poll-or-event loop: round 1's
    poll wins, round 2 waits again; 'go' must end round 2, not round 1's abandoned wait."""
    hist = History()
    round1, round2 = any_of(wait("go"), act("poll")), any_of(wait("go"), act("poll"))
    hist.episode([round1])
    assert ids(hist.episode([round1, round2], done(0))) == [(1, "activity", "poll")]
    out = hist.episode([round1, round2, act("after")], raised("go"))
    assert ids(out) == [(2, "activity", "after")] and not out.deferred
    assert out.open_ids == {1, 2}


def test_a_buffered_event_is_taken_once() -> None:
    """``bufferedExternalEvents``: a queue per name, each event dequeued by one wait."""
    hist = History()
    hist.episode([act("a")], raised("go"))
    out = hist.episode([act("a"), wait("go"), wait("go"), act("b")], done(0))
    assert out.new == [] and out.waiting_for_event and out.awaiting == "WaitForExternalEvent 'go'"
    assert ids(hist.episode([act("a"), wait("go"), wait("go"), act("b")], raised("go"))) == [(1, "activity", "b")]


def sub(name: str, instance_id: str | None = None) -> dict[str, Any]:
    return {"actionType": shim.CALL_SUB, "functionName": name, "input": "null", "instanceId": instance_id}


KNOWN = shim.Known.of(["a", "Poll"], ["child"], instance_id="me", parent_id="Dad")


def test_a_call_the_extension_refuses_takes_no_id_and_never_completes() -> None:
    """``CallDurableTaskFunctionAsync`` throws (``ThrowIfFunctionDoesNotExist``, the sub-orchestration id
    checks) inside an async method: the task is faulted, no id is taken, ``ProcessAsyncActionsV2`` swallows it.
    So WhenAll[nope, a] completes with a, and the next call gets the id the SDK gave 'a'."""
    hist = History(KNOWN)
    first = all_of(act("nope"), act("A"))  # names compare ignoring case
    out = hist.episode([first])
    assert ids(out) == [(0, "activity", "A")]
    assert out.refused == ["CallActivity 'nope': The function 'nope' doesn't exist, is disabled, or is not an "
                           "activity function."]
    out = hist.episode([first, act("poll")], done(0))
    assert ids(out) == [(1, "activity", "poll")]  # the SDK counted nope 0, A 1, poll 2


@pytest.mark.parametrize(("action", "reason"), [
    (sub("child", "ME"), "must be different than the instance ID of a parent"),
    (sub("child", "dad"), "must be different than the instance ID of a parent"),
    (sub("child", "@x"), "must not start with @"),
    (sub("nope", "x"), "is not an orchestrator function"),
    (retry("a", first_ms=7 * 24 * 3600 * 1000), "maximum of 6 days"),
])
def test_refused_sub_orchestrations_and_retries(action: dict[str, Any], reason: str) -> None:
    out = History(KNOWN).episode([action])  # the shim goes on at once, with nothing open: the SDK waits for ever
    assert out.new == [] and out.finished and reason in out.refused[0]


def test_calls_the_extension_accepts_are_scheduled() -> None:
    six_days = 6 * 24 * 3600 * 1000
    out = History(KNOWN).episode([all_of(sub("Child"), sub("child", "other"), retry("a", first_ms=six_days))])
    assert [s.kind for s in out.new] == ["suborch", "suborch", "activity"] and out.refused == []


def test_events_after_continue_as_new_are_carried_to_the_next_execution() -> None:
    """``HandleEventRaisedEvent``: once the replay has invoked ContinueAsNew, an event is not raised but added
    to the next execution (Azure Storage: ``EventBehaviourForContinueAsNew = Carryover``); one processed before
    it was buffered and ends with this execution. While a task is still open the execution does not end."""
    hist = History()
    actions = [any_of(act("fast"), act("slow")), {"actionType": shim.CONTINUE_AS_NEW, "input": "1"}]
    hist.episode(actions[:1])
    out = hist.episode(actions, raised("early"), done(0), raised("late"))
    assert out.continued and not out.finished and out.open_ids == {1}
    assert [e["Name"] for e in out.carryover] == ["late"]
    out = hist.episode(actions, raised("later"), done(1))
    assert out.finished and [e["Name"] for e in out.carryover] == ["late", "later"]


def test_cancelling_a_timer_raced_against_a_retried_call_is_non_deterministic_as_in_azure() -> None:
    """Not a devhost rule but the extension's: the SDK re-sends a cancelled timer with ``isCanceled`` from the
    first replay on, so ``InvokeAPIFromAction`` cancels it at once and the WhenAny holding it completes when it
    is invoked. The next call then takes the id the retry's timer took when the call first failed: the replay
    disagrees with the history (``HandleTimerCreatedEvent``) and the orchestration fails."""
    hist = History()
    timer = {"actionType": shim.CREATE_TIMER, "fireAt": h.iso(T0 + dt.timedelta(hours=1)), "isCanceled": False}
    race = any_of(retry("a", first_ms=100), timer)
    hist.episode([race])  # a: 0, timer: 1
    assert ids(hist.episode([race], failed(0))) == [(2, "timer", None)]
    assert ids(hist.episode([race], fired(2))) == [(3, "activity", "a")]
    out = hist.episode([any_of(retry("a", first_ms=100), {**timer, "isCanceled": True}), act("next")], done(3))
    assert out.error is not None and "sequence ID 2" in out.error and "'next'" in out.error


def test_a_retry_with_no_attempts_returns_at_once_without_scheduling() -> None:
    """``RetryInterceptor.Invoke``: ``for (retryCount = 0; retryCount < MaxNumberOfAttempts; ...)`` never runs
    and the call returns default; the SDK still waits for its task, which the extension never scheduled."""
    out = History().episode([retry("a", attempts=0), act("b")])
    assert ids(out) == [(0, "activity", "b")]


def test_a_retry_interval_is_capped_at_six_days_by_default() -> None:
    """The extension's ``RetryOptions`` sets ``MaxRetryInterval`` to 6 days (``DefaultMaxRetryinterval``)."""
    day = 24 * 3600 * 1000
    hist = History()
    action = retry("f", first_ms=4 * day, attempts=3, backoffCoefficient=2)
    hist.episode([action])
    out = hist.episode([action], failed(0))
    timer = out.new[0].id
    out = hist.episode([action], failed(hist.episode([action], fired(timer)).new[0].id))
    assert (h.parse_ts(out.new[0].fire_at or "") - hist.clock) == dt.timedelta(days=6)

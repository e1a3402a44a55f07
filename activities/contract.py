"""Registering an activity from its contract (``shared.contracts``): the trigger, the failure policy
(``activities.guard``), the cancel fence, validating the input into its model and serialising the result.

    @activity(bp, contracts.PREPARE)
    async def prepare(batch: BatchRef) -> PrepareResult: ...

    @activity(bp, contracts.PUBLISH_RUN, client=True)
    async def publish_run(ref: RunRef, client: df.DurableOrchestrationClient) -> ReportWritten: ...

The function the worker indexes is the trigger built here, with the signature Azure's worker accepts
(``payload: Payload``, and ``client`` for a durable client binding): the typed function stays a plain
coroutine, callable as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, overload

import azure.durable_functions as df
from pydantic import BaseModel

from activities.guard import Payload, guarded, unless_cancelled
from shared.contracts import Activity


@overload
def activity[I: BaseModel, O: BaseModel](bp: df.Blueprint, contract: Activity[I, O], *,
                                         cancellable: bool = ..., client: Literal[False] = False
                                         ) -> Callable[[Callable[[I], Awaitable[O]]], Callable[[I], Awaitable[O]]]: ...


@overload
def activity[I: BaseModel, O: BaseModel](
        bp: df.Blueprint, contract: Activity[I, O], *, cancellable: bool = ..., client: Literal[True]
) -> Callable[[Callable[[I, df.DurableOrchestrationClient], Awaitable[O]]],
              Callable[[I, df.DurableOrchestrationClient], Awaitable[O]]]: ...


def activity(bp: df.Blueprint, contract: Activity[Any, Any], *, cancellable: bool = False,
             client: bool = False) -> Callable[[Any], Any]:
    """Register ``fn`` as the activity of ``contract`` on ``bp``; ``cancellable``: refuse to work for a run
    an operator cancelled (``unless_cancelled``); ``client``: ``fn`` also takes the Durable client."""

    def register(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def run(payload: Payload, **clients: Any) -> dict[str, Any]:
            result = await fn(contract.read_input(payload), *clients.values())
            return contract.answer(result)

        run.__name__ = run.__qualname__ = contract.name  # what the failure policy's log lines name
        body = guarded(unless_cancelled(run) if cancellable else run)
        if client:
            async def trigger_with_client(payload: Payload, client: df.DurableOrchestrationClient) -> dict[str, Any]:
                return await body(payload, client=client)  # type: ignore[no-any-return]

            trigger: Callable[..., Awaitable[dict[str, Any]]] = trigger_with_client
        else:
            async def trigger_plain(payload: Payload) -> dict[str, Any]:
                return await body(payload)  # type: ignore[no-any-return]

            trigger = trigger_plain
        trigger.__name__ = trigger.__qualname__ = f"{contract.name}_activity"
        registered: Any = trigger
        if client:
            registered = bp.durable_client_input(client_name="client")(registered)
        registered = bp.activity_trigger(input_name="payload")(registered)
        bp.function_name(contract.name)(registered)
        return fn

    return register

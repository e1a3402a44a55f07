"""``Idempotency-Key`` for ``POST /api/runs``: the same key returns the same run (202 with the same
``run_id`` and links, ``Idempotent-Replayed: true``); the same key with a different request is 409."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared.models import RunOptions
from shared.runs import idempotency
from triggers.http_requests import open_store
from triggers.instances import DurableOrchestrations
from triggers.links import accepted
from triggers.responses import error_response


@dataclass
class Keyed:
    key: str | None
    request: str = ""
    run_id: str | None = None  # the run this key already names, not started yet (a start that failed)


async def _replay(req: func.HttpRequest, client: df.DurableOrchestrationClient, bound: dict[str, Any],
                  request: str) -> func.HttpResponse | None:
    if bound.get("request") != request:
        return error_response(409, "Idempotency-Key already used for a different request", [
            {"field": "Idempotency-Key", "message": f"it names run {bound.get('run_id')}"}])
    run_id = str(bound["run_id"])
    if await DurableOrchestrations(client).get(run_id) is None:
        return None
    return accepted(req, run_id, headers={"Idempotent-Replayed": "true"})


async def lookup(req: func.HttpRequest, client: df.DurableOrchestrationClient, options: RunOptions,
                 trigger: str) -> Keyed | func.HttpResponse:
    key = req.headers.get("idempotency-key")
    if key is None:
        return Keyed(None)
    if not idempotency.VALID_KEY.fullmatch(key):
        return error_response(400, "invalid request", [
            {"field": "Idempotency-Key", "message": "1 to 200 printable ASCII characters"}])
    request = idempotency.request_hash({"options": options.model_dump(mode="json"), "trigger": trigger})
    async with open_store() as store:
        bound = await idempotency.lookup(store, key)
    if bound is None:
        return Keyed(key, request)
    replayed = await _replay(req, client, bound, request)
    return replayed if replayed is not None else Keyed(key, request, str(bound["run_id"]))


async def replay_if_bound(req: func.HttpRequest, client: df.DurableOrchestrationClient,
                          keyed: Keyed) -> func.HttpResponse | None:
    """After losing the active-run place: if a concurrent request with this key started that run, replay it."""
    if keyed.key is None:
        return None
    async with open_store() as store:
        bound = await idempotency.lookup(store, keyed.key)
    return None if bound is None else await _replay(req, client, bound, keyed.request)


async def claim(req: func.HttpRequest, client: df.DurableOrchestrationClient, keyed: Keyed,
                run_id: str) -> func.HttpResponse | None:
    """Bind the key to ``run_id`` before starting it; a concurrent request that won gets replayed."""
    if keyed.key is None or keyed.run_id == run_id:
        return None
    async with open_store() as store:
        await store.ensure_container()
        bound = await idempotency.claim(store, keyed.key, run_id, keyed.request)
    if bound["run_id"] == run_id:
        return None
    replayed = await _replay(req, client, bound, keyed.request)
    return replayed or error_response(409, f"a request with this Idempotency-Key is starting run {bound['run_id']}",
                                      [{"field": "Idempotency-Key", "message": "retry in a moment"}])

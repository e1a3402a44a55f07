"""A small app whose functions probe the host behaviours devhost mirrors (routes, keys, limits, timeouts)."""

from __future__ import annotations

import json
import threading
import time
import typing
from typing import Any

import azure.durable_functions as df
import azure.functions as func

Payload = typing.Dict[str, Any]  # noqa: UP006 - the worker refuses dict[str, Any]

# how many "probe" activities ran at once (they run in the worker's thread pool, in this process)
RUNNING = {"now": 0, "max": 0}
_LOCK = threading.Lock()


def create_app() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

    # Two routes that overlap for /products/list: the host tries them in function-name order (Azure/azure-
    # functions-host#9876), so "Details" wins although "List" is the literal match.
    @app.function_name("Details")
    @app.route(route="products/{id}", methods=["GET"])
    def details(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(f"details {req.route_params['id']}")

    @app.function_name("List")
    @app.route(route="products/list", methods=["GET"])
    def listing(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("list")

    @app.function_name("Zoo")
    @app.route(route="products/{id}", methods=["POST"])
    def zoo(req: func.HttpRequest) -> func.HttpResponse:  # same template, other method: registered
        return func.HttpResponse("zoo")

    @app.function_name("echo_request")
    @app.route(route="echo/{name}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def echo_request(req: func.HttpRequest) -> func.HttpResponse:
        body = req.get_body()
        return func.HttpResponse(json.dumps({
            "method": req.method, "params": dict(req.params), "route": dict(req.route_params),
            "headers": {k: v for k, v in req.headers.items() if k.startswith("x-")},
            "body": body.decode("utf-8", "replace"), "body_hex": body.hex(),
            "content_encoding": req.headers.get("content-encoding"),
        }), mimetype="application/json", headers={"X-Echo": "1"})

    @app.function_name("admin_only")
    @app.route(route="admin/thing", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
    def admin_only(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("admin ok")

    @app.function_name("start")
    @app.route(route="start/{name}/{instance_id?}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    @app.durable_client_input(client_name="client")
    async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        body = req.get_body()
        iid = await client.start_new(req.route_params["name"], req.route_params.get("instance_id"),
                                     json.loads(body) if body else None)
        return client.create_check_status_response(req, iid)

    @app.activity_trigger(input_name="payload")
    def sleepy(payload: Payload) -> float:
        time.sleep(float(payload["seconds"]))
        return float(payload["seconds"])

    @app.activity_trigger(input_name="payload")
    def probe(payload: Payload) -> int:
        with _LOCK:
            RUNNING["now"] += 1
            RUNNING["max"] = max(RUNNING["max"], RUNNING["now"])
        time.sleep(0.3)
        with _LOCK:
            RUNNING["now"] -= 1
        return int(payload["i"])

    @app.orchestration_trigger(context_name="context")
    def fan_out(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        results = yield context.task_all([context.call_activity("probe", {"i": i}) for i in range(context.get_input())])
        return sum(results)

    @app.orchestration_trigger(context_name="context")
    def status_of_size(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        chars = int(context.get_input())
        context.set_custom_status("x" * chars)
        yield context.call_activity("sleepy", {"seconds": 0})
        return chars

    @app.orchestration_trigger(context_name="context")
    def slow_activity(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        try:
            result = yield context.call_activity("sleepy", {"seconds": context.get_input()})
        except Exception as exc:  # the host's timeout arrives as a failed task
            return f"failed: {exc}"
        return result

    return app

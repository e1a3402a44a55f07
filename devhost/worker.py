"""The app, loaded and invoked by Azure's own Python worker runtime (``azure-functions-runtime``).

In Azure the Functions host starts a Python worker process and talks to it over gRPC: a ``WorkerInitRequest``
(the worker imports ``function_app.py``, indexes it and validates every function), a metadata request (the
host learns the functions from their raw binding JSON), then one ``InvocationRequest`` per call, whose
trigger and binding data the host encodes as ``TypedData``. From Python 3.13 on the worker's code is the PyPI
package ``azure-functions-runtime``; the local host calls that package's own handlers
(``handle_event.worker_init_request`` / ``functions_metadata_request`` / ``invocation_request``) in-process
with the message classes of :mod:`devhost.protocol`, so whatever Azure's worker rejects, devhost rejects with
the same message, and every call goes through the worker's converters.

What is not the worker's code: the gRPC transport (in-process calls instead), and the host-side encoding
below, written from the host's ``GrpcMessageConversionExtensions.ToRpc``/``ToRpcHttp`` and the Durable
extension's trigger bindings (see docs/local-host.md for the sources).
"""

from __future__ import annotations

import contextvars
import json
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure_functions_runtime import get_threadpool_executor, handle_event, start_threadpool_executor
from azure_functions_runtime.bindings.meta import load_binding_registry
from azure_functions_runtime.functions import Registry
from azure_functions_runtime.loader import process_indexed_function

from . import protocol as p

# Capabilities the Functions host advertises in WorkerInitRequest (RpcWorkerConstants); the worker answers
# with its own (RawHttpBodyBytes, RpcHttpBodyOnly, TypedDataCollection, ...), which select the encodings below.
HOST_CAPABILITIES = {"FunctionDataCache": "false"}


class WorkerLoadError(Exception):
    """The worker refused the app: its own message, as the Functions host would log it and load nothing."""


class InvocationError(Exception):
    """The worker reported a failed invocation: ``message`` is "<Type>: <text>", as in RpcException."""

    def __init__(self, message: str, stack_trace: str) -> None:
        super().__init__(message)
        self.message = message
        self.stack_trace = stack_trace


# The runtime keeps its function registry in a module global (one app per worker process in Azure). A
# process here may host several apps at once (tests), so the global is a proxy to the registry of the
# worker that is being called, found through a context variable set around every call.
_current: contextvars.ContextVar[Registry] = contextvars.ContextVar("devhost_worker_registry")


class _RegistryProxy:
    def __getattr__(self, name: str) -> Any:
        return getattr(_current.get(), name)


handle_event._functions = _RegistryProxy()


@dataclass(frozen=True)
class FunctionMetadata:
    """What the host learns about one function: its id and raw bindings (JSON), nothing from Python."""

    name: str
    function_id: str
    bindings: list[dict[str, Any]]


class Worker:
    """One app inside Azure's Python worker runtime."""

    def __init__(self) -> None:
        if get_threadpool_executor() is None:
            start_threadpool_executor()  # sync functions run there (PYTHON_THREADPOOL_THREAD_COUNT), as in Azure
        self.registry = Registry()
        self.functions: dict[str, FunctionMetadata] = {}
        self.capabilities: dict[str, str] = {}

    # ---- loading ---------------------------------------------------------------------------------------
    async def load_script(self, script: Path) -> list[FunctionMetadata]:
        """Load ``script`` (``function_app.py``) the way Azure does: WorkerInitRequest, then metadata."""
        script = Path(script).resolve()
        if str(script.parent) not in sys.path:
            sys.path.insert(0, str(script.parent))  # the worker runs with the app root first on sys.path
        request = p.WorkerRequest(
            name="WorkerInitRequest",
            request=p.StreamingMessage(worker_init_request=p.WorkerInitRequest(
                host_version="4", capabilities=dict(HOST_CAPABILITIES),
                worker_directory=str(Path(handle_event.__file__).parent),
                function_app_directory=str(script.parent))),
            properties={"host": "127.0.0.1", "protos": p},
        )
        previous = os.environ.get("PYTHON_SCRIPT_FILE_NAME")
        os.environ["PYTHON_SCRIPT_FILE_NAME"] = script.name
        token = _current.set(self.registry)
        try:
            response = await handle_event.worker_init_request(request)
            if response.result.status != p.StatusResult.Success:
                raise WorkerLoadError(response.result.exception.message)
            self.capabilities = dict(response.capabilities)
            metadata = await handle_event.functions_metadata_request(p.WorkerRequest(name="FunctionsMetadataRequest"))
        finally:
            _current.reset(token)
            if previous is None:
                os.environ.pop("PYTHON_SCRIPT_FILE_NAME", None)
            else:
                os.environ["PYTHON_SCRIPT_FILE_NAME"] = previous
        return self._remember(metadata.function_metadata_results or [])

    def load_app(self, app: Any, directory: str = "") -> list[FunctionMetadata]:
        """Index an app object (tests' small apps) with the worker's own validation (``process_indexed_function``,
        the step after the loader's import in ``handle_event.index_functions``)."""
        load_binding_registry()
        handle_event.protos = p
        try:
            results, _ = process_indexed_function(p, self.registry, app.get_functions(), directory)
        except Exception as exc:
            raise WorkerLoadError(f"{type(exc).__name__}: {exc}") from exc
        return self._remember(results)

    def _remember(self, results: list[p.RpcFunctionMetadata]) -> list[FunctionMetadata]:
        for meta in results:
            self.functions[meta.name] = FunctionMetadata(
                name=meta.name, function_id=meta.function_id, bindings=[json.loads(b) for b in meta.raw_bindings])
        return list(self.functions.values())

    # ---- invocation ------------------------------------------------------------------------------------
    async def invoke(self, name: str, inputs: Mapping[str, p.TypedData],
                     trigger_metadata: Mapping[str, p.TypedData] | None = None) -> p.TypedData | None:
        """One InvocationRequest; the function's return value as the worker encodes it, or InvocationError."""
        meta = self.functions[name]
        invocation_id = str(uuid.uuid4())
        message = p.InvocationRequest(
            invocation_id=invocation_id, function_id=meta.function_id,
            input_data=[p.ParameterBinding(name=k, data=v) for k, v in inputs.items()],
            trigger_metadata=dict(trigger_metadata or {}),
            trace_context=p.RpcTraceContext(trace_parent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"),
        )
        token = _current.set(self.registry)
        try:
            response = await handle_event.invocation_request(
                p.WorkerRequest(name="InvocationRequest", request=p.StreamingMessage(invocation_request=message),
                                properties={"protos": p}))
        finally:
            _current.reset(token)
        if response.result.status != p.StatusResult.Success:
            exc = response.result.exception or p.RpcException(message="unknown failure")
            raise InvocationError(exc.message, exc.stack_trace)
        value: p.TypedData | None = response.return_value
        return value


# ---- host-side encodings (GrpcMessageConversionExtensions.ToRpc) -------------------------------------------
def string_data(text: str) -> p.TypedData:
    """A .NET string → ``TypedData.string`` (orchestration context, activity input, durable client JSON)."""
    return p.TypedData(string=text)


def json_data(value: Any) -> p.TypedData:
    """A POCO / JObject → ``TypedData.json`` (``ToRpcDefault``: compact JSON) — the timer's TimerInfo."""
    return p.TypedData(json=json.dumps(value, separators=(",", ":")))


def returned_json(value: p.TypedData | None) -> str | None:
    """The JSON text of a return value (activity output, orchestrator state); None when nothing came back."""
    if value is None:
        return None
    kind = value.WhichOneof("data")
    if kind == "json":
        return value.json
    if kind == "string":
        return json.dumps(value.string)
    if kind is None:
        return None
    raise TypeError(f"unexpected return value type {kind!r}")

"""The Functions host ↔ Python worker messages, as plain Python classes.

Azure's Python worker runtime (``azure-functions-runtime``) receives protobuf messages of the Functions RPC
protocol (``FunctionRpc.proto`` in Azure/azure-functions-language-worker-protobuf) from the host process,
and builds its replies with the message classes the host hands it as ``properties["protos"]``. The local
host passes this module instead of generated protobuf code: the same message and field names, the same enum
values, plain attributes, and ``WhichOneof`` for the two ``oneof`` fields the runtime reads (``TypedData.data``
and ``ParameterBinding.rpc_data``). Only what the runtime touches is here; nothing is serialized.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any


class Message:
    """Fields given as keyword arguments; the dataclass defaults stand for protobuf's defaults."""


class OneOf(Message):
    """A message with one ``oneof`` group: ``WhichOneof(group)`` names the field that is set, or None."""

    ONEOF: tuple[str, tuple[str, ...]] = ("", ())

    def WhichOneof(self, group: str) -> str | None:
        name, members = self.ONEOF
        if group != name:
            raise ValueError(f"{type(self).__name__} has no oneof group {group!r}")
        return next((m for m in members if getattr(self, m, None) is not None), None)


# ---- results ---------------------------------------------------------------------------------------------
@dataclass
class RpcException(Message):
    message: str = ""
    stack_trace: str = ""
    source: str = ""
    is_user_exception: bool = False
    type: str = ""


@dataclass
class StatusResult(Message):
    Failure = 0
    Success = 1
    Cancelled = 2

    status: int = 0
    result: str = ""
    exception: RpcException | None = None
    logs: list[Any] = field(default_factory=list)


# ---- data ------------------------------------------------------------------------------------------------
@dataclass
class NullableString(Message):
    value: str | None = None


@dataclass
class NullableBool(Message):
    value: bool | None = None


@dataclass
class NullableDouble(Message):
    value: float | None = None


@dataclass
class NullableTimestamp(Message):
    value: Any = None


@dataclass
class RpcHttpCookie(Message):
    class SameSite:
        # "None" is a Python keyword; the runtime reads it with getattr(SameSite, "None")
        Lax = 1
        Strict = 2
        ExplicitNone = 3

    name: str = ""
    value: str = ""
    domain: NullableString | None = None
    path: NullableString | None = None
    expires: NullableTimestamp | None = None
    secure: NullableBool | None = None
    http_only: NullableBool | None = None
    same_site: int = 0
    max_age: NullableDouble | None = None


setattr(RpcHttpCookie.SameSite, "None", 0)


@dataclass
class RpcHttp(Message):
    method: str = ""
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: TypedData = field(default_factory=lambda: TypedData())  # a protobuf message field is never None
    params: dict[str, str] = field(default_factory=dict)
    status_code: str = ""
    query: dict[str, str] = field(default_factory=dict)
    enable_content_negotiation: bool = False
    raw_body: TypedData = field(default_factory=lambda: TypedData())
    cookies: list[RpcHttpCookie] | None = None


@dataclass
class TypedData(OneOf):
    ONEOF = ("data", ("string", "json", "bytes", "stream", "http", "int", "double", "collection_bytes",
                      "collection_string", "collection_double", "collection_sint64", "model_binding_data",
                      "collection_model_binding_data"))

    string: str | None = None
    json: str | None = None
    bytes: builtins.bytes | None = None
    stream: builtins.bytes | None = None
    http: RpcHttp | None = None
    int: builtins.int | None = None
    double: float | None = None
    collection_bytes: Any = None
    collection_string: Any = None
    collection_double: Any = None
    collection_sint64: Any = None
    model_binding_data: Any = None
    collection_model_binding_data: Any = None


@dataclass
class ParameterBinding(OneOf):
    ONEOF = ("rpc_data", ("data", "rpc_shared_memory"))

    name: str = ""
    data: TypedData | None = None
    rpc_shared_memory: Any = None


# ---- function metadata -----------------------------------------------------------------------------------
@dataclass
class BindingInfo(Message):
    # enum Direction { in = 0; out = 1; inout = 2; }  ("in" is a Python keyword: set below)
    out = 1
    inout = 2
    # enum DataType { undefined = 0; string = 1; binary = 2; stream = 3; }
    undefined = 0
    string = 1
    binary = 2
    stream = 3

    type: str = ""
    direction: int = 0
    data_type: int = 0
    properties: dict[str, str] = field(default_factory=dict)


setattr(BindingInfo, "in", 0)


@dataclass
class RpcRetryOptions(Message):
    max_retry_count: int = 0
    delay_interval: Any = None
    minimum_interval: Any = None
    maximum_interval: Any = None
    retry_strategy: Any = None


@dataclass
class RpcFunctionMetadata(Message):
    name: str = ""
    directory: str = ""
    script_file: str = ""
    entry_point: str = ""
    bindings: dict[str, BindingInfo] = field(default_factory=dict)
    is_proxy: bool = False
    status: StatusResult | None = None
    language: str = ""
    raw_bindings: list[str] = field(default_factory=list)
    function_id: str = ""
    managed_dependency_enabled: bool = False
    retry_options: RpcRetryOptions | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkerMetadata(Message):
    runtime_name: str = ""
    runtime_version: str = ""
    worker_version: str = ""
    worker_bitness: str = ""
    custom_properties: dict[str, str] = field(default_factory=dict)


# ---- requests --------------------------------------------------------------------------------------------
@dataclass
class WorkerInitRequest(Message):
    host_version: str = ""
    capabilities: dict[str, str] = field(default_factory=dict)
    log_categories: dict[str, int] = field(default_factory=dict)
    worker_directory: str = ""
    function_app_directory: str = ""


@dataclass
class RpcTraceContext(Message):
    trace_parent: str = ""
    trace_state: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class RetryContext(Message):
    retry_count: int = 0
    max_retry_count: int = 0
    exception: RpcException | None = None


@dataclass
class InvocationRequest(Message):
    invocation_id: str = ""
    function_id: str = ""
    input_data: list[ParameterBinding] = field(default_factory=list)
    trigger_metadata: dict[str, TypedData] = field(default_factory=dict)
    trace_context: RpcTraceContext = field(default_factory=RpcTraceContext)
    retry_context: RetryContext = field(default_factory=RetryContext)


@dataclass
class StreamingMessage(Message):
    request_id: str = ""
    worker_init_request: WorkerInitRequest | None = None
    invocation_request: InvocationRequest | None = None


@dataclass
class WorkerRequest(Message):
    """What the worker's dispatcher hands the runtime's handlers: the message plus host-side properties."""

    name: str = ""
    request: StreamingMessage = field(default_factory=StreamingMessage)
    properties: dict[str, Any] = field(default_factory=dict)


# ---- responses -------------------------------------------------------------------------------------------
@dataclass
class WorkerInitResponse(Message):
    worker_version: str = ""
    capabilities: dict[str, str] = field(default_factory=dict)
    result: StatusResult = field(default_factory=StatusResult)
    worker_metadata: WorkerMetadata | None = None


@dataclass
class FunctionMetadataResponse(Message):
    function_metadata_results: list[RpcFunctionMetadata] | None = None
    result: StatusResult = field(default_factory=StatusResult)
    use_default_metadata_indexing: bool = False


@dataclass
class FunctionLoadResponse(Message):
    function_id: str = ""
    result: StatusResult = field(default_factory=StatusResult)
    is_dependency_downloaded: bool = False


@dataclass
class FunctionEnvironmentReloadResponse(Message):
    worker_metadata: WorkerMetadata | None = None
    capabilities: dict[str, str] = field(default_factory=dict)
    result: StatusResult = field(default_factory=StatusResult)


@dataclass
class InvocationResponse(Message):
    invocation_id: str = ""
    output_data: list[ParameterBinding] = field(default_factory=list)
    return_value: TypedData | None = None
    result: StatusResult = field(default_factory=StatusResult)

"""The OpenAPI 3.1 document of Harvest's HTTP API (served at ``/api/openapi.json``). Response bodies reuse
the pydantic models' JSON Schemas, so the document follows the code; a fuzz test keeps it true."""

from __future__ import annotations

import functools
from typing import Any, get_args

from shared.models import RunOptions, RunStatus, RunSummary
from shared.names import RUN_ID, SOURCE_ID

ERR = {"$ref": "#/components/responses/Error"}
JSON = "application/json"


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def _ok(schema: dict[str, Any], description: str, code: str = "200") -> dict[str, Any]:
    return {code: {"description": description, "content": {JSON: {"schema": schema}}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): ERR for c in codes}


def _path(name: str, pattern: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": pattern}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


REASON_BODY = {"required": False, "content": {JSON: {"schema": {
    "type": "object", "additionalProperties": False,
    "properties": {"reason": {"type": "string", "maxLength": 500}}}}}}
RUN = _path("run_id", RUN_ID.pattern)
SOURCE = _path("source_id", SOURCE_ID.pattern)
ADMIN: list[dict[str, list[str]]] = [{"functionKey": []}]
LINKS = ("statusQueryGetUri", "reportGetUri", "cancelPostUri", "suspendPostUri", "resumePostUri")
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
INDEX_ITEM = _obj({
    "run_id": {"type": "string"}, "status": {"enum": list(get_args(RunStatus))}, "trigger": {"type": "string"},
    "requested_at": {"type": ["string", "null"]}, "started_at": {"type": ["string", "null"]},
    "finished_at": {"type": ["string", "null"]}, "duration_s": {"type": ["number", "null"]}, "totals": COUNTS,
    "sources": {"type": ["object", "null"], "additionalProperties": {"type": "string"}}, "dry_run": {"type": "boolean"},
})
STATS = _obj({
    "days": {"type": "integer"}, "since": {"type": "string"}, "until": {"type": "string"}, "runs": {"type": "integer"},
    "by_status": COUNTS, "success_rate": {"type": ["number", "null"]},
    "duration_s": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
    "per_day": {"type": "array", "items": {"type": "object"}},
    "failures_by_source": {"type": "array", "items": {"type": "object"}},
})
SOURCE_INFO = _obj({
    "id": {"type": "string"}, "kind": {"type": "string"}, "enabled": {"type": "boolean"},
    "title": {"type": ["string", "null"]}, "config": {"type": "object"}, "checkpoint": {"type": "object"},
    "last_run_id": {"type": ["string", "null"]}, "last_status": {"type": ["string", "null"]},
    "last_success_at": {"type": ["string", "null"]}, "last_error": {"type": ["string", "null"]},
    "last_counts": {"type": ["object", "null"]}, "document_count": {"type": "integer"},
})
OPTIONS_REF = {"$ref": "#/components/schemas/RunOptions"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
LIST_PARAMS = [
    _query("status", {"enum": list(get_args(RunStatus))}, "only runs with this status"),
    _query("source", {"type": "string", "pattern": SOURCE_ID.pattern}, "runs covering this source"),
    _query("since", {"type": "string", "format": "date-time"}, "runs requested at or after"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "page size"),
    _query("continuation", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,4096}$"}, "token from the previous page"),
]
# The Durable status schema (learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api, "Get
# instance status"): a run's status URL answers with these beside Harvest's own fields.
DURABLE_STATUS = _obj({
    "name": {"type": "string"}, "instanceId": {"type": "string"},
    "runtimeStatus": {"enum": ["Pending", "Running", "Suspended", "ContinuedAsNew", "Completed", "Failed",
                               "Terminated", "Canceled"]},
    "input": {}, "customStatus": {}, "output": {},
    "createdTime": {"type": ["string", "null"]}, "lastUpdatedTime": {"type": ["string", "null"]},
})
CHECK = _obj({"name": {"type": "string"}, "ok": {"type": "boolean"}, "message": {"type": "string"},
              "ms": {"type": "number"}})
HEALTHY = _obj({"status": {"const": "ok"}, "checks": {"type": "array", "items": CHECK}})


def _paths() -> dict[str, Any]:
    run_ref = {"allOf": [{"$ref": "#/components/schemas/RunSummary"}, DURABLE_STATUS]}
    controlled: dict[str, Any] = {**_ok(_obj({"run_id": {"type": "string"}, "operation": {"type": "string"},
                                              "status": {"type": "string"}, "reason": {"type": "string"}}),
                                        "Accepted", "202"), **_errors(400, 404, 409, 413, 415)}
    control = {
        op: {"post": {
            "summary": f"{op.capitalize()} a run (and its source orchestrations)", "operationId": f"{op}_run",
            "parameters": [RUN], "requestBody": REASON_BODY, "responses": controlled,
            "security": ADMIN, "x-auth-level": "admin"}}
        for op in ("cancel", "suspend", "resume")
    }
    return {
        "/runs": {
            "post": {"summary": "Start a run", "operationId": "start_run",
                     "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                     "schema": {"type": "string", "pattern": r"^[!-~][ -~]{0,199}$"},
                                     "description": "The same key returns the same run."}],
                     "requestBody": {"required": False, "content": {JSON: {"schema": OPTIONS_REF}}},
                     "responses": {**_ok(_obj({"id": {"type": "string"}, "run_id": {"type": "string"},
                                               **{k: {"type": "string"} for k in LINKS}},
                                              ["id", "run_id", *LINKS]), "Started (or replayed): poll Location", "202"),
                                   **_errors(400, 409, 413, 415)}},
            "get": {"summary": "Run history, newest first", "operationId": "list_runs",
                    "parameters": LIST_PARAMS,
                    "responses": {**_ok(_obj({"runs": {"type": "array", "items": INDEX_ITEM},
                                              "continuation": {"type": ["string", "null"]}}), "A page of runs"),
                                  **_errors(400)}},
        },
        "/runs/{run_id}": {
            "get": {"summary": "A run: record, live progress, per-source phase", "operationId": "get_run",
                    "parameters": [RUN], "responses": {**_ok(run_ref, "The run (it has ended)"),
                                                       **_ok(run_ref, "The run, still active: poll again", "202"),
                                                       **_errors(400, 404)}},
            "delete": {"summary": "Purge a finished run: record, report, index entry, orchestration history",
                       "operationId": "purge_run", "parameters": [RUN], "security": ADMIN, "x-auth-level": "admin",
                       "responses": {**_ok(_obj({"run_id": {"type": "string"}, "purged": COUNTS}), "Purged"),
                                     **_errors(400, 404, 409)}},
        },
        "/runs/{run_id}/report": {"get": {
            "summary": "The run's self-contained HTML report", "operationId": "get_run_report", "parameters": [RUN],
            "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}},
                          **_errors(400, 404)}}},
        **{f"/runs/{{run_id}}/{op}": spec for op, spec in control.items()},
        "/stats": {"get": {
            "summary": "Run statistics over the last N days", "operationId": "get_stats",
            "parameters": [_query("days", {"type": "integer", "minimum": 1, "maximum": 365, "default": 7}, "window")],
            "responses": {**_ok(STATS, "Statistics"), **_errors(400)}}},
        "/sources": {"get": {"summary": "Every source: configuration (redacted), checkpoint, document count",
                             "operationId": "list_sources",
                             "responses": {**_ok(_obj({"sources": {"type": "array", "items": SOURCE_INFO}}), "Sources"),
                                           **_errors(503)}}},
        "/sources/{source_id}": {"get": {"summary": "One source", "operationId": "get_source", "parameters": [SOURCE],
                                         "responses": {**_ok(SOURCE_INFO, "The source"), **_errors(400, 404, 503)}}},
        "/sources/{source_id}/reset": {"post": {
            "summary": "Full refresh of this source on its next run", "operationId": "reset_source",
            "parameters": [SOURCE], "requestBody": REASON_BODY, "security": ADMIN, "x-auth-level": "admin",
            "responses": {**_ok(_obj({"source_id": {"type": "string"}, "reset_requested": {"type": "boolean"},
                                      "message": {"type": "string"}}), "Reset requested", "202"),
                          **_errors(400, 404, 409, 413, 415, 503)}}},
        "/health": {"get": {"summary": "Storage, manifest and embedder checks", "operationId": "health", "security": [],
                            "responses": {**_ok(HEALTHY, "Healthy"),
                                          "503": {"description": "Unhealthy", "content": {JSON: {"schema": {
                                              "allOf": [{"$ref": "#/components/schemas/Error"},
                                                        _obj({"checks": {"type": "array", "items": CHECK}})]}}}}}}},
        "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "security": [],
                                  "responses": _ok({"type": "object"}, "OpenAPI 3.1")}},
    }


@functools.cache
def openapi() -> dict[str, Any]:
    template = "#/components/schemas/{model}"
    schemas: dict[str, Any] = {}
    for model, mode in ((RunSummary, "serialization"), (RunOptions, "validation")):
        schema = model.model_json_schema(ref_template=template, mode=mode)  # type: ignore[arg-type]
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas["Error"] = _obj({"error": {"type": "string"}, "details": {"type": "array", "items": {
        "type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Harvest", "version": "0.1.0",
                 "description": "Operate Harvest: start runs, follow and control them, read history, stats and "
                                "sources. Errors are always {\"error\", \"details\"}."},
        "servers": [{"url": "/api"}],
        "security": [{"functionKey": []}],
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "responses": {"Error": {"description": "An error", "content": {JSON: {"schema": ERROR_REF}}}},
            "securitySchemes": {"functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"}},
        },
    }

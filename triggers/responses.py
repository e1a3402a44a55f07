"""JSON responses and the one error shape every route uses: ``{"error": ..., "details": [...]}``."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
from pydantic import ValidationError


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, mimetype="application/json", headers=headers
    )


def error_response(status: int, error: str, details: list[dict[str, str]] | None = None,
                   headers: dict[str, str] | None = None) -> func.HttpResponse:
    return json_response({"error": error, "details": details or []}, status, headers)


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    """One ``{"field", "message"}`` per problem; the field is a dotted path (``sources.1``)."""
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "body"
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        out.append({"field": field, "message": message})
    return out

"""JSON responses and the one error shape every route uses: ``{"error": ..., "details": [...]}``."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, mimetype="application/json", headers=headers
    )


def error_response(status: int, error: str, details: list[dict[str, str]] | None = None,
                   headers: dict[str, str] | None = None) -> func.HttpResponse:
    return json_response({"error": error, "details": details or []}, status, headers)

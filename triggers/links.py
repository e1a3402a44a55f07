"""Harvest's own links for a run, handed out instead of the Durable client's management URLs: those carry
the Durable system key (terminate, purge, raise events on any instance) and must never reach a caller
that only holds a function key. A client polls ``statusQueryGetUri`` (``GET /api/runs/{id}``) exactly as
it would a Durable status URL: 202 with ``Location`` and ``Retry-After`` while the run is active, 200
with the run when it has ended. Cancel, suspend and resume are Harvest's routes, at the admin level."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from shared.runs.links import origin, run_links
from triggers.responses import json_response

RETRY_AFTER = "5"


def request_links(req: func.HttpRequest, run_id: str) -> dict[str, str]:
    return run_links(origin(req.url), run_id)


def accepted(req: func.HttpRequest, run_id: str, headers: dict[str, str] | None = None,
             **extra: Any) -> func.HttpResponse:
    """202 for a started (or replayed) run: its id and links, ``Location`` to poll and ``Retry-After``."""
    links = request_links(req, run_id)
    # ``id``: the Durable check-status field, so a client written for Durable's HTTP API finds the instance
    return json_response({"id": run_id, "run_id": run_id, **links, **extra}, 202, headers={
        "Location": links["statusQueryGetUri"], "Retry-After": RETRY_AFTER, **(headers or {})})

"""Harvest's own links for a run, handed out instead of the Durable client's management URLs: those carry
the Durable system key (terminate, purge, raise events on any instance) and must never reach a caller
that only holds a function key. A client polls ``statusQueryGetUri`` (``GET /api/runs/{id}``) exactly as
it would a Durable status URL: 202 with ``Location`` and ``Retry-After`` while the run is active, 200
with the run when it has ended. Cancel, suspend and resume are Harvest's routes, at the admin level.

The links' origin is ``HARVEST_PUBLIC_URL`` when it is set, so a client-chosen ``Host`` header never reaches
``Location`` or a link; otherwise it is the request's own (scheme and ``Host``), as the Durable client's
``create_check_status_response`` builds its URLs. In Azure that ``Host`` is one of the app's host names (App
Service routes a request to the app by it); behind a proxy that rewrites it, or on a local host open to a
network, set ``HARVEST_PUBLIC_URL`` (docs/deploy.md)."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from shared.runs.links import origin, run_links
from triggers.responses import json_response

RETRY_AFTER = "5"


def public_base(req: func.HttpRequest) -> str:
    """Where clients reach the app: ``HARVEST_PUBLIC_URL`` (without a trailing slash), else the request's origin."""
    from shared.settings import get_settings

    configured = get_settings().public_url
    return configured.rstrip("/") if configured else origin(req.url)


def request_links(req: func.HttpRequest, run_id: str) -> dict[str, str]:
    return run_links(public_base(req), run_id)


def accepted(req: func.HttpRequest, run_id: str, headers: dict[str, str] | None = None,
             **extra: Any) -> func.HttpResponse:
    """202 for a started (or replayed) run: its id and links, ``Location`` to poll and ``Retry-After``."""
    links = request_links(req, run_id)
    # ``id``: the Durable check-status field, so a client written for Durable's HTTP API finds the instance
    return json_response({"id": run_id, "run_id": run_id, **links, **extra}, 202, headers={
        "Location": links["statusQueryGetUri"], "Retry-After": RETRY_AFTER, **(headers or {})})

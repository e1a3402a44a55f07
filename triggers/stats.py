"""``GET /api/stats?days=N``: runs by status, success rate, documents and chunks per day, mean and p95
duration, failures by source — over the last N days (1 to 365, default 7), from the run index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func

from shared import names
from shared.runs.index import iter_since
from shared.runs.stats import compute_stats
from triggers.http_requests import check_query, handler, open_store, query_int
from triggers.responses import json_response

bp = df.Blueprint()


@bp.function_name(names.GET_STATS)
@bp.route(route="stats", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@handler
async def stats_route(req: func.HttpRequest) -> func.HttpResponse:
    check_query(req, {"days"})
    days = query_int(req, "days", 7, 1, 365)
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    async with open_store() as store:
        entries = await iter_since(store, since)
    return json_response(compute_stats(entries, days=days, since=since, now=now))

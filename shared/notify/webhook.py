"""A generic webhook: the run as JSON, signed with HMAC-SHA256.

Headers: ``X-Harvest-Event: run.finished``, ``X-Harvest-Delivery: <run id>`` (receivers dedupe on it),
``X-Harvest-Timestamp: <unix seconds>`` and, when ``HARVEST_WEBHOOK_SECRET`` is set,
``X-Harvest-Signature: sha256=<hex>`` = HMAC-SHA256(secret, f"{timestamp}.{body}"). Verify by recomputing
it over the raw body and comparing in constant time; reject old timestamps to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp

from shared.notify.delivery import http_failure
from shared.notify.message import Notice


def payload(notice: Notice) -> dict[str, Any]:
    return {"event": "run.finished", "run_id": notice.run_id, "status": notice.status, "trigger": notice.trigger,
            "duration_s": notice.duration_s, "totals": notice.totals, "sources": notice.sources_by_status,
            "failed_sources": notice.failed_sources, "errors": notice.top_errors, "links": notice.links,
            "run": notice.summary}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


async def send_webhook(notice: Notice, *, url: str, secret: str | None, timeout: float) -> None:
    body = json.dumps(payload(notice), separators=(",", ":"), default=str).encode()
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "Harvest-Notify/1",
               "X-Harvest-Event": "run.finished", "X-Harvest-Delivery": notice.run_id,
               "X-Harvest-Timestamp": stamp}
    if secret:
        headers["X-Harvest-Signature"] = sign(secret, stamp, body)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, \
            http.post(url, data=body, headers=headers, allow_redirects=False) as resp:
        if resp.status >= 300:
            raise http_failure(resp.status, resp.headers.get("Retry-After"))

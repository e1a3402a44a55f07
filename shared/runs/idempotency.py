"""Idempotency keys for ``POST /api/runs``: the same key returns the same run.

``idempotency/{sha256(key)}.json`` = ``{"run_id", "request", "created_at"}``, created only if absent, so
two concurrent requests with one key agree on one run. ``request`` is a hash of the request (options and
trigger): reusing a key for a different request is refused. Keys expire with retention."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from shared.storage.blobs import JSON_TYPE, BlobStore, dumps

PREFIX = "idempotency/"
VALID_KEY = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,199}$")


def key_blob(key: str) -> str:
    return f"{PREFIX}{hashlib.sha256(key.encode()).hexdigest()}.json"


def request_hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


async def lookup(store: BlobStore, key: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None
    value, _ = await store.read_json(key_blob(key))
    return value


async def claim(store: BlobStore, key: str, run_id: str, request: str) -> dict[str, Any]:
    """Bind ``key`` to ``run_id`` unless it is bound already; return the binding that holds."""
    record = {"run_id": run_id, "request": request, "created_at": datetime.now(UTC).isoformat()}
    if await store.create_if_absent(key_blob(key), dumps(record), content_settings=JSON_TYPE):
        return record
    return await lookup(store, key) or record

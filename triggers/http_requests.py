"""What every operator route shares when it handles a request: one error path (``HttpError`` → ``{"error",
"details"}``; the run service's ``RunNotFound`` → 404 and ``RunConflict`` → 409), strict query and path
parsing, small JSON bodies, the blob store, logging context, and no traceback ever reaching a client (an
unexpected exception is logged and answered 500 without details)."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from shared.config import json_input
from shared.errors import ConfigError
from shared.logs import configure_logging, log_context
from shared.names import RUN_ID
from shared.runs.operations import RunConflict, RunNotFound
from shared.storage.blobs import BlobStore
from triggers.responses import error_response

log = logging.getLogger("harvest.triggers")
ALWAYS_ALLOWED = {"code"}  # the function key, when passed in the query string
Handler = Callable[..., Awaitable[func.HttpResponse]]


class HttpError(Exception):
    def __init__(self, status: int, error: str, details: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.details, self.headers = status, error, details or [], headers


def not_found(what: str, ident: str) -> HttpError:
    field = what.replace(" ", "_") + "_id"
    return HttpError(404, f"{what} not found", [{"field": field, "message": f"no {what} {ident!r}"}])


def handler(fn: Handler) -> Handler:
    """Wrap a route: errors become JSON, run/source ids go into the logging context."""

    @functools.wraps(fn)
    async def wrapper(req: func.HttpRequest, *args: Any, **kwargs: Any) -> func.HttpResponse:
        configure_logging()
        params = req.route_params or {}
        with log_context(run_id=params.get("run_id"), source_id=params.get("source_id")):
            try:
                return await fn(req, *args, **kwargs)
            except HttpError as exc:
                return error_response(exc.status, exc.error, exc.details, exc.headers)
            except RunNotFound as exc:
                return error_response(404, "run not found", [{"field": "run_id", "message": str(exc)}])
            except RunConflict as exc:
                return error_response(409, exc.message, [{"field": "run_id", "message": exc.hint}])
            except ConfigError as exc:
                log.warning("%s: configuration problem: %s", fn.__name__, exc)
                return error_response(503, "Harvest is misconfigured", exc.problems)
            except Exception:
                log.exception("%s failed", fn.__name__)
                return error_response(500, "internal error", [])

    return wrapper


def check_query(req: func.HttpRequest, allowed: set[str]) -> None:
    unknown = sorted(set(req.params) - allowed - ALWAYS_ALLOWED)
    if unknown:
        raise HttpError(400, "invalid request", [{"field": k, "message": "unknown query parameter"} for k in unknown])


def query_int(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw: str | None = req.params.get(name)
    if raw is None:
        return default
    if re.fullmatch(r"\s*-[0-9]{1,9}\s*", raw):
        raise HttpError(400, "invalid request", [{"field": name, "message": f"must be ≥ {low} (got {raw.strip()})"}])
    if not re.fullmatch(r"[0-9]{1,9}", raw.strip()):  # ASCII only: \d and int() take full-width and Arabic-Indic digits
        raise HttpError(400, "invalid request", [{"field": name, "message": "must be a whole number"}])
    value = int(raw)
    if not low <= value <= high:
        raise HttpError(400, "invalid request", [{"field": name, "message": f"must be between {low} and {high}"}])
    return value


def query_choice(req: func.HttpRequest, name: str, choices: tuple[str, ...]) -> str | None:
    raw: str | None = req.params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise HttpError(400, "invalid request", [{"field": name, "message": f"must be one of {', '.join(choices)}"}])
    return raw


def query_datetime(req: func.HttpRequest, name: str) -> datetime | None:
    raw: str | None = req.params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(400, "invalid request", [
            {"field": name, "message": "must be an ISO 8601 date or date-time (2026-11-23 or 2026-11-23T10:00:00Z)"}
        ]) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def query_text(req: func.HttpRequest, name: str, pattern: re.Pattern[str]) -> str | None:
    raw: str | None = req.params.get(name)
    if raw is None or raw == "":
        return None
    raw = str(raw)
    if not pattern.fullmatch(raw):
        raise HttpError(400, "invalid request", [{"field": name, "message": "invalid format"}])
    return raw


def path_id(req: func.HttpRequest, name: str, pattern: re.Pattern[str]) -> str:
    value: str = (req.route_params or {}).get(name, "")
    if not pattern.fullmatch(value):
        raise HttpError(400, "invalid request", [{"field": name, "message": "invalid identifier"}])
    return value


def run_route_id(req: func.HttpRequest) -> str:
    """The ``{run_id}`` of a route on one run, which takes no query parameters."""
    check_query(req, set())
    return path_id(req, "run_id", RUN_ID)


def json_body(req: func.HttpRequest, max_bytes: int) -> dict[str, Any]:
    """An optional small JSON object body, sent uncompressed (the Functions host passes a compressed body on as
    it came: 415) and read by ``shared.config.json_input`` (bounded nesting, unique names, Unicode text: 400)."""
    body = req.get_body() or b""
    if len(body) > max_bytes:
        raise HttpError(413, "request body too large", [{"field": "body", "message": f"over {max_bytes} bytes"}])
    if not body.strip():
        return {}
    encoding = (req.headers.get("content-encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise HttpError(415, "unsupported Content-Encoding", [
            {"field": "Content-Encoding", "message": f"{encoding[:40]!r}: send the JSON body uncompressed"}],
            headers={"Accept-Encoding": "identity"})
    try:
        data = json_input.loads(body)
    except ValueError as exc:  # json_input's refusals and UnicodeDecodeError are ValueErrors
        raise HttpError(400, "invalid JSON", [{"field": "body", "message": str(exc)[:200]}]) from None
    if not isinstance(data, dict):
        raise HttpError(400, "invalid request", [{"field": "body", "message": "must be a JSON object"}])
    return data


def reason_from(req: func.HttpRequest, default: str) -> str:
    data = json_body(req, 4096)
    unknown = sorted(set(data) - {"reason"})
    if unknown:
        raise HttpError(400, "invalid request", [{"field": k, "message": "unknown field"} for k in unknown])
    reason = data.get("reason", default)
    if not isinstance(reason, str) or len(reason) > 500:
        raise HttpError(400, "invalid request",
                        [{"field": "reason", "message": "must be a string of at most 500 characters"}])
    return reason or default


@asynccontextmanager
async def open_store() -> AsyncIterator[BlobStore]:
    from shared.settings import get_settings

    async with BlobStore.from_settings(get_settings()) as store:
        yield store

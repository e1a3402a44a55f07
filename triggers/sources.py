"""Sources: ``GET /api/sources``, ``GET /api/sources/{source_id}`` (configuration with secrets redacted,
checkpoint, last success, last error, document count) and ``POST /api/sources/{source_id}/reset``
(admin: the source's next run is a full refresh)."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from shared import names
from shared.config.manifest import Manifest
from shared.names import SOURCE_ID
from shared.pipeline.context import manifest_for
from shared.settings import get_settings
from shared.sources.base import SourceSpec
from shared.sources.info import SourceBusy, describe, describe_all, manifest_configs, request_reset
from triggers.http_requests import (
    HttpError,
    check_query,
    handler,
    not_found,
    open_store,
    path_id,
    reason_from,
)
from triggers.responses import json_response

bp = df.Blueprint()


def _manifest() -> Manifest:
    return manifest_for(get_settings())


def _spec(manifest: Manifest, source_id: str) -> SourceSpec:
    try:
        return manifest.get(source_id)
    except KeyError:
        raise not_found("source", source_id) from None


@bp.function_name(names.LIST_SOURCES)
@bp.route(route="sources", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@handler
async def list_sources_route(req: func.HttpRequest) -> func.HttpResponse:
    check_query(req, set())
    manifest = _manifest()
    async with open_store() as store:
        sources = await describe_all(store, manifest)
    return json_response({"sources": sources})


@bp.function_name(names.GET_SOURCE)
@bp.route(route="sources/{source_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@handler
async def get_source_route(req: func.HttpRequest) -> func.HttpResponse:
    check_query(req, set())
    manifest = _manifest()
    spec = _spec(manifest, path_id(req, "source_id", SOURCE_ID))
    async with open_store() as store:
        return json_response(await describe(store, spec, manifest_configs(manifest).get(spec.id)))


@bp.function_name(names.RESET_SOURCE)
@bp.route(route="sources/{source_id}/reset", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@handler
async def reset_source_route(req: func.HttpRequest) -> func.HttpResponse:
    check_query(req, set())
    spec = _spec(_manifest(), path_id(req, "source_id", SOURCE_ID))
    reason_from(req, "reset")
    async with open_store() as store:
        try:
            await request_reset(store, spec.id)
        except SourceBusy as exc:
            raise HttpError(409, str(exc), [
                {"field": "source_id", "message": "reset it after that run ends (or cancel the run)"}]) from None
    return json_response({"source_id": spec.id, "reset_requested": True,
                          "message": "the next run of this source re-reads it from the beginning"}, 202)

"""Validation of ``POST /api/runs`` bodies with real ``func.HttpRequest`` objects (no host needed)."""

from __future__ import annotations

import json
from pathlib import Path

import azure.functions as func
import pytest

from shared.models import RunOptions
from triggers.runs import parse_options


@pytest.fixture(autouse=True)
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "sources.yaml").write_text("sources:\n  - {id: notes, kind: folder, path: docs}\n")
    monkeypatch.setenv("HARVEST_MANIFEST", str(tmp_path / "sources.yaml"))
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    from shared.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def request(body: bytes) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://127.0.0.1:7071/api/runs", body=body, headers={})


def problems(body: bytes) -> tuple[int, dict]:
    resp = parse_options(request(body))
    assert isinstance(resp, func.HttpResponse)
    return resp.status_code, json.loads(resp.get_body())


def test_empty_body_means_defaults() -> None:
    assert parse_options(request(b"")) == RunOptions()


def test_valid_body() -> None:
    opts = parse_options(request(b'{"sources": ["notes"], "dry_run": true}'))
    assert opts == RunOptions(sources=["notes"], dry_run=True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"colour": "red"}', "colour"),
        (b'{"full_refresh": "yes"}', "full_refresh"),
        (b'{"dry_run": 1}', "dry_run"),
        (b'{"sources": "notes"}', "sources"),
        (b'{"sources": [3]}', "sources.0"),
        (b'{"sources": ["notes", "nope"]}', "sources"),
    ],
)
def test_bad_bodies_are_400_with_the_field(body: bytes, field: str) -> None:
    status, payload = problems(body)
    assert status == 400
    assert field in [d["field"] for d in payload["details"]], payload
    assert "Traceback" not in json.dumps(payload)


def test_oversized_body_is_413() -> None:
    status, payload = problems(b'{"sources": []}' + b" " * 70_000)
    assert status == 413 and payload["error"] == "request body too large"


def test_an_empty_source_list_is_400_naming_the_field() -> None:
    """Issue 12 item 1: ``{"sources": []}`` was accepted and started a run with nothing to do."""
    status, payload = problems(b'{"sources": [], "dry_run": true}')
    assert status == 400
    assert payload["details"] == [{"field": "sources", "message": payload["details"][0]["message"]}]
    assert "at least one source" in payload["details"][0]["message"]

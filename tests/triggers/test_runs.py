"""Validation of ``POST /api/runs`` bodies with real ``func.HttpRequest`` objects (no host needed)."""

from __future__ import annotations

import gzip
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


def request(body: bytes, headers: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://127.0.0.1:7071/api/runs", body=body, headers=headers or {})


def problems(body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    resp = parse_options(request(body, headers))
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


def test_a_misspelt_or_missing_field_reads_like_the_manifest_messages() -> None:
    """One wording for every validated input (``shared.config.messages.field_problems``): pydantic said
    "Extra inputs are not permitted" here, then "unknown field" without the field it was close to."""
    status, payload = problems(b'{"dry_rn": true, "full_refresh": "yes"}')
    assert status == 400
    found = {d["field"]: d["message"] for d in payload["details"]}
    assert found["dry_rn"] == "unknown field: did you mean 'dry_run'?"
    assert found["full_refresh"] == "Input should be a valid boolean"


def test_oversized_body_is_413() -> None:
    status, payload = problems(b'{"sources": []}' + b" " * 70_000)
    assert status == 413 and payload["error"] == "request body too large"


def test_an_empty_source_list_is_400_naming_the_field() -> None:
    """Issue 12 item 1: ``{"sources": []}`` was accepted and started a run with nothing to do."""
    status, payload = problems(b'{"sources": [], "dry_run": true}')
    assert status == 400
    assert payload["details"] == [{"field": "sources", "message": payload["details"][0]["message"]}]
    assert "at least one source" in payload["details"][0]["message"]


@pytest.mark.parametrize("depth", [65, 900, 20_000])
def test_deeply_nested_json_is_400_not_a_recursion_error(depth: int) -> None:
    """Issue 25 item 5: a 20,000-level body was a RecursionError, answered 500 with an empty body."""
    for opening, closing in ((b"[", b"]"), (b'{"a":', b"}"))[: 1 if depth > 10_000 else 2]:  # within 64 KB
        nested = b'{"sources": ' + opening * depth + b"1" + closing * depth + b"}"
        status, payload = problems(nested)
        assert status == 400 and payload["error"] == "invalid JSON", payload
        assert payload["details"] == [{"field": "body", "message": "JSON nested deeper than 64 levels"}]


def test_nesting_up_to_the_limit_is_read_and_validated() -> None:
    status, payload = problems(b'{"sources": ' + b"[" * 63 + b"]" * 63 + b"}")
    assert status == 400 and payload["details"][0]["field"].startswith("sources")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "GZIP"])
def test_a_compressed_body_is_415_whatever_it_holds(encoding: str) -> None:
    """Issue 25 item 5: ``Content-Encoding: gzip`` with a body that is not gzip was a text/plain 500. The host
    hands the function the bytes as sent, so Harvest reads only identity bodies and says so."""
    for body in (b"not gzip at all", gzip.compress(b'{"dry_run": true}')):
        resp = parse_options(request(body, {"Content-Encoding": encoding}))
        assert isinstance(resp, func.HttpResponse)
        assert resp.status_code == 415 and resp.headers["Accept-Encoding"] == "identity"
        assert json.loads(resp.get_body())["details"][0]["field"] == "Content-Encoding"
    assert parse_options(request(b'{"dry_run": true}', {"Content-Encoding": "identity"})) == RunOptions(dry_run=True)

"""The `harvest` CLI as a new user runs it: run, export, query, status, and clear errors."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Workspace
from tests.e2e.docs_text import DOCS, write_docs

pytestmark = pytest.mark.slow


def test_run_export_query_status(workspace: Workspace) -> None:
    write_docs(workspace.docs)
    done = workspace.harvest("run", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "completed"
    notes = summary["sources"]["notes"]
    assert notes["counts"]["added"] == len(DOCS)
    assert set(notes["timings"]) == {"discover", "fetch", "chunk", "embed", "commit", "publish"}

    rows = [json.loads(line) for line in workspace.harvest("export").stdout.splitlines()]
    required = {"chunk_id", "doc_id", "source_id", "url", "title", "ordinal", "text", "vector", "model"}
    assert rows and all(required <= set(r) and len(r["vector"]) == 384 for r in rows)

    hits = json.loads(workspace.harvest("query", "Spring tides come at new and full moon", "--json").stdout)
    assert hits[0]["doc_id"] == "tides.md"
    assert {"score", "source_id", "url", "title", "snippet"} <= set(hits[0])

    status = workspace.harvest("status", summary["run_id"], "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "completed"

    again = json.loads(workspace.harvest("run", "--json").stdout)
    counts = again["sources"]["notes"]["counts"]
    assert (counts["unchanged"], counts["added"], counts["chunks_embedded"]) == (len(DOCS), 0, 0)


def test_bad_manifest_is_a_clear_message(workspace: Workspace) -> None:
    workspace.manifest("sources:\n  - {id: notes, kind: folder, path: missing-dir, colour: 3}\n")
    done = workspace.harvest("run")
    assert done.returncode == 2
    assert "colour" in done.stderr and "Traceback" not in done.stderr


def test_unknown_source_option_is_a_clear_message(workspace: Workspace) -> None:
    done = workspace.harvest("run", "--source", "nope")
    assert done.returncode == 2
    assert "nope" in done.stderr and "Traceback" not in done.stderr


def test_bad_setting_names_the_setting(workspace: Workspace) -> None:
    workspace.env["HARVEST_CHUNK_TOKENS"] = "many"
    done = workspace.harvest("run")
    assert done.returncode == 2 and "HARVEST_CHUNK_TOKENS" in done.stderr

"""What users see (issue 12 item 9 and the smaller CLI items): one-line reasons, never a traceback; run ids
checked as the API checks them; tables on stdout; an unknown export source is an error; progress lines when
the output is not a terminal."""

from __future__ import annotations

import asyncio
import json

import pytest

from shared.storage.records import claim_source
from tests.e2e.conftest import Workspace
from tests.e2e.docs_text import write_docs

pytestmark = pytest.mark.slow


async def _claim_for_another_run(ws: Workspace, source_id: str) -> None:
    async with ws.store() as store:
        await store.ensure_container()
        await claim_source(store, source_id, "run-elsewhere")


def test_a_failed_activity_is_one_line_in_the_record_and_the_report(workspace: Workspace) -> None:
    ws = workspace
    ws.env["HARVEST_EMBEDDER"] = "hashing"
    (ws.docs / "a.md").write_text("# A\n\nSome text.\n")
    asyncio.run(_claim_for_another_run(ws, "notes"))  # begin_source then fails: claim held
    done = ws.harvest("run", "--json")
    summary = json.loads(done.stdout)
    message = summary["sources"]["notes"]["message"]
    assert "is being processed by run run-elsewhere" in message
    assert "Traceback" not in message and ".py" not in message and "\n" not in message
    status = ws.harvest("status", summary["run_id"], "--json")
    assert "Traceback" not in status.stdout
    report = ws.harvest("report", summary["run_id"])
    assert report.returncode == 0 and "run-elsewhere" in report.stdout and "Traceback" not in report.stdout


@pytest.mark.parametrize("command", [("status", "../../etc"), ("report", "x/../../y"), ("status", "a b")])
def test_a_bad_run_id_is_refused_before_storage(workspace: Workspace, command: tuple[str, str]) -> None:
    done = workspace.harvest(*command)
    assert done.returncode == 2, done.stderr
    assert "is not a run id" in done.stderr and "Traceback" not in done.stderr and "<?xml" not in done.stderr


def test_tables_go_to_stdout_and_unknown_export_source_is_an_error(workspace: Workspace) -> None:
    ws = workspace
    ws.env["HARVEST_EMBEDDER"] = "hashing"
    write_docs(ws.docs)
    done = ws.harvest("run")
    assert done.returncode == 0, done.stderr
    assert "notes" in done.stdout  # the summary table is output
    run_id = json.loads(ws.harvest("runs", "--json").stdout)[0]["run_id"]
    assert f"run {run_id}: " in done.stderr  # plain progress lines when the output is not a terminal
    runs = ws.harvest("runs")
    assert runs.returncode == 0 and "completed" in runs.stdout
    listed = ws.harvest("sources", "list")
    assert "notes" in listed.stdout
    nope = ws.harvest("export", "--source", "nope")
    assert nope.returncode == 2 and "nope" in nope.stderr and nope.stdout == ""
    known = ws.harvest("export", "--source", "notes")
    assert known.returncode == 0 and known.stdout.count("\n") >= 1


def test_a_second_host_on_the_task_hub_is_one_clear_line(workspace: Workspace) -> None:
    workspace.serve()
    second = workspace.harvest("serve", "--port", "0", "--no-timers", timeout=120)
    assert second.returncode == 2, second.stderr
    assert "Traceback" not in second.stderr
    line = [t for t in second.stderr.splitlines() if "already served by another host" in t]
    assert line and "pid" in line[0] and "HARVEST_TASK_HUB" in line[0], second.stderr

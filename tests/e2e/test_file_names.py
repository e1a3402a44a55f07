"""A folder whose file names are not all valid UTF-8 (issue 25 item 7): one such name used to fail discovery,
and the whole source with it (UnicodeEncodeError, 0 documents). Now that file is one per-document failure that
says to rename it, and the rest of the folder is ingested."""

from __future__ import annotations

import json
import os

from tests.e2e.conftest import Workspace
from tests.e2e.docs_text import DOCS, write_docs


def test_a_file_name_that_is_not_utf8_fails_only_that_file(workspace: Workspace) -> None:
    write_docs(workspace.docs, DOCS)
    bad = os.path.join(os.fsencode(workspace.docs), b"caf\xe9 notes.md")
    with open(bad, "wb") as handle:
        handle.write(b"# Caf\xc3\xa9\n\nA note whose name is Latin-1, written by an old tool.\n")
    sub = os.path.join(os.fsencode(workspace.docs), b"\xff\xfe dir")
    os.mkdir(sub)
    with open(os.path.join(sub, b"inside.md"), "wb") as handle:
        handle.write(b"# Inside\n\nA note in a directory whose name is not UTF-8.\n")
    done = workspace.harvest("run", "--json")
    summary = json.loads(done.stdout)
    counts = summary["sources"]["notes"]["counts"]
    assert counts["added"] == len(DOCS), (done.stdout, done.stderr)
    assert counts["failed"] == 2, summary
    assert "Traceback" not in done.stderr
    reasons = sorted(e["reason"] for e in summary["errors"])
    assert [r.split(":")[0] for r in reasons] == ["\\xff\\xfe dir/inside.md", "caf\\xe9 notes.md"]
    assert all("the file name is not valid UTF-8" in r and "rename the file" in r for r in reasons)

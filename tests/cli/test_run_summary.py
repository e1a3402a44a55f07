"""The CLI's one-line corpus summary: a dry run never reads like a run that wrote something."""

from __future__ import annotations

from cli.commands.run import corpus_line

TOTALS = {"added": 1, "updated": 2, "deleted": 3, "chunks_embedded": 4, "chunks_reused": 5}


def test_a_real_run_says_what_it_did() -> None:
    line = corpus_line(TOTALS, dry_run=False)
    assert line.startswith("corpus: 1 added, 2 updated, 3 deleted; 4 chunks embedded, 5 reused.")
    assert "would" not in line


def test_a_dry_run_says_what_would_change_and_that_nothing_was_written() -> None:
    line = corpus_line(TOTALS, dry_run=True)
    assert line.startswith("dry run — nothing was written.")
    assert "1 would be added" in line and "4 chunks would be embedded" in line
    assert "harvest query" not in line

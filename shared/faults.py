"""Crash points: let a test kill the process at an exact place in the write protocol.

A crash test sets ``HARVEST_CRASHPOINT=<name>`` (and optionally ``HARVEST_CRASHPOINT_HIT=<n>``, default 1)
in the environment of a host process; when execution reaches that named point for the n-th time, the
process sends itself SIGKILL — no cleanup, no flush, exactly like a machine losing power. Unset (always, in
production), ``crashpoint`` is a dictionary lookup and returns. The names are listed in ``POINTS``.
"""

from __future__ import annotations

import os
import signal
import threading

POINTS = (
    "run.opened",          # after the run record was created
    "fetch.staged",        # after fetch wrote texts.jsonl
    "chunk.staged",        # after chunk wrote chunks.jsonl
    "embed.computed",      # after vectors were computed, before they were staged
    "embed.staged",        # after embed wrote vectors.jsonl
    "commit.version",      # after a corpus version blob, before its document record
    "commit.record",       # after a document record
    "checkpoint.before",   # before the cursor moves
    "checkpoint.after",    # after the cursor moved
    "source.finished",     # after the checkpoint's final update, before the orchestrator hears of it
    "index.intent",        # after the ledger names the versions about to be sent, before the index gets them
    "index.sent",          # after the index acknowledged writes, before the ledger records them
    "index.batch_intent",  # the same two points when a batch's commit publishes its documents
    "index.batch_sent",
    "run.closing",         # before the run record is closed
    "run.closed",          # after the run record was closed
)

_hits: dict[str, int] = {}
_lock = threading.Lock()


def crashpoint(name: str) -> None:
    target = os.environ.get("HARVEST_CRASHPOINT")
    if target != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] >= int(os.environ.get("HARVEST_CRASHPOINT_HIT", "1")):
            os.kill(os.getpid(), signal.SIGKILL)

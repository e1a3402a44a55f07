"""A run's statuses, once: the run record's own (``RunStatus``) and the Durable runtime statuses of its
orchestrations, which of each are still going or final, and how a runtime status reads as a run status.

Every reader of a run (the live view, run control, purge, retention, stats, the CLI following a run) asks
these sets; nobody keeps a list of its own."""

from __future__ import annotations

from typing import get_args

from shared.models import RunStatus

RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
RUN_FINAL = frozenset({"completed", "partial", "failed", "cancelled"})  # the record will not change again
RUN_ACTIVE = frozenset(RUN_STATUSES) - RUN_FINAL  # pending, running, suspended

# Durable runtime statuses (OrchestrationRuntimeStatus): an instance in RUNTIME_ACTIVE may still change
RUNTIME_ACTIVE = frozenset({"Pending", "Running", "Suspended", "ContinuedAsNew"})
RUNTIME_ENDED = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
RUNTIME_TO_RUN = {"Pending": "pending", "Running": "running", "Suspended": "suspended",
                  "Terminated": "cancelled", "Failed": "failed", "Canceled": "cancelled"}

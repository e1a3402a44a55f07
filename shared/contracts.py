"""Every Durable function the orchestrators call, declared once: its name, what it takes, what it returns.

Both sides use the same object. An orchestrator calls ``yield from call(context, contracts.PREPARE, ref)``
and gets a ``PrepareResult`` back (``orchestrators.calls``); the activity is registered from the contract
(``activities.contract.activity``), which validates the input into the model, and serialises what the
function returns. mypy checks both ends against the models, so a boundary can no longer drift apart
between a name here, a pair of models there and hand-written (de)serialisation at every call site.
Host-free: only names and pydantic models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from shared import names
from shared.models import (
    BatchLaneTask,
    BatchRef,
    CheckpointInput,
    CloseRunInput,
    CommitInput,
    CompactJob,
    CompactLaneResult,
    CompactResult,
    CompactSourceInput,
    DiscoverInput,
    DiscoverResult,
    Done,
    FinishSourceInput,
    LaneOutcome,
    LoadSourcesInput,
    NotificationsSent,
    OpenRunInput,
    PrepareResult,
    PublishInput,
    PublishResult,
    ReportWritten,
    RetentionApplied,
    RunInput,
    RunPlan,
    RunRef,
    RunSummary,
    SourceLaneResult,
    SourceLaneTask,
    SourceResult,
    SourceStart,
    SourceTask,
    StageResult,
)


@dataclass(frozen=True)
class Contract[I: BaseModel, O: BaseModel]:
    """A Durable function's boundary: its ``name``, its ``input`` model and its ``output`` model."""

    name: str
    input: type[I]
    output: type[O]

    def payload(self, value: I) -> dict[str, Any]:
        """The input as it travels (JSON)."""
        return value.model_dump(mode="json")

    def read_input(self, raw: Any) -> I:
        """The input received (an unknown key or a bad value raises ``ValidationError``)."""
        return self.input.model_validate(raw)

    def answer(self, value: O) -> dict[str, Any]:
        """The output as it travels (JSON)."""
        return value.model_dump(mode="json")

    def result(self, raw: Any) -> O:
        """The output received."""
        return self.output.model_validate(raw)


class Activity[I: BaseModel, O: BaseModel](Contract[I, O]):
    """An activity function's contract."""


class Orchestration[I: BaseModel, O: BaseModel](Contract[I, O]):
    """An orchestrator function's contract (its output: what a parent gets from calling it)."""


# ---- activities -----------------------------------------------------------------------------------------
LOAD_SOURCES = Activity(names.LOAD_SOURCES, LoadSourcesInput, RunPlan)
OPEN_RUN = Activity(names.OPEN_RUN, OpenRunInput, RunSummary)
CLOSE_RUN = Activity(names.CLOSE_RUN, CloseRunInput, RunSummary)
BEGIN_SOURCE = Activity(names.BEGIN_SOURCE, SourceTask, SourceStart)
DISCOVER = Activity(names.DISCOVER, DiscoverInput, DiscoverResult)
PREPARE = Activity(names.PREPARE, BatchRef, PrepareResult)
EMBED = Activity(names.EMBED, BatchRef, StageResult)
COMMIT = Activity(names.COMMIT, CommitInput, StageResult)
CHECKPOINT = Activity(names.CHECKPOINT, CheckpointInput, Done)
FINISH_SOURCE = Activity(names.FINISH_SOURCE, FinishSourceInput, Done)
PUBLISH_INDEX = Activity(names.PUBLISH_INDEX, PublishInput, PublishResult)
COMPACT_SOURCE = Activity(names.COMPACT_SOURCE, CompactSourceInput, CompactResult)
PUBLISH_RUN = Activity(names.PUBLISH_RUN, RunRef, ReportWritten)
NOTIFY_RUN = Activity(names.NOTIFY_RUN, RunRef, NotificationsSent)
APPLY_RETENTION = Activity(names.APPLY_RETENTION, RunRef, RetentionApplied)

# ---- orchestrations -------------------------------------------------------------------------------------
RUN = Orchestration(names.RUN_ORCHESTRATOR, RunInput, RunSummary)
SOURCE = Orchestration(names.SOURCE_ORCHESTRATOR, SourceTask, SourceResult)
SOURCE_LANE = Orchestration(names.SOURCE_LANE, SourceLaneTask, SourceLaneResult)
BATCH_LANE = Orchestration(names.BATCH_LANE, BatchLaneTask, LaneOutcome)
COMPACT = Orchestration(names.COMPACT_ORCHESTRATOR, CompactJob, CompactLaneResult)
COMPACT_LANE = Orchestration(names.COMPACT_LANE, CompactJob, CompactLaneResult)

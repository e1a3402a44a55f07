"""Names of every Durable function, what a run id and a source id look like, and how a source
orchestration's instance id is made, in one place.

Orchestrators call activities and sub-orchestrators by these constants; the blueprints register
functions under them. Renaming a function is a one-line change here.
"""

import re

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # what the API and the CLI accept as a run id
SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # the manifest's source id pattern

RUN_ORCHESTRATOR = "run_orchestrator"
SOURCE_ORCHESTRATOR = "source_orchestrator"
SOURCE_LANE = "source_lane"  # a share of a run's sources, one after another (orchestrators/lanes.py)
BATCH_LANE = "batch_lane"  # a share of a page's batches, one after another
COMPACT_LANE = "compact_lane"  # a share of the sources being compacted

LOAD_SOURCES = "load_sources"
OPEN_RUN = "open_run"
CLOSE_RUN = "close_run"
BEGIN_SOURCE = "begin_source"
DISCOVER = "discover"
PREPARE = "prepare"  # a batch's fetch → extract → chunk, in one activity
EMBED = "embed"
COMMIT = "commit"
FINISH_SOURCE = "finish_source"
PUBLISH_INDEX = "publish_index"  # the search index's copy of a source made equal to its live chunks (shared/index)

DAILY_TIMER = "daily_timer"
START_RUN = "start_run"
CHECKPOINT = "checkpoint"
COMPACT_ORCHESTRATOR = "compact_orchestrator"
COMPACT_SOURCE = "compact_source"
START_COMPACT = "start_compact"
GET_COMPACT = "get_compact"

# operating a run (issue 6): index, report, notifications, retention
PUBLISH_RUN = "publish_run"
NOTIFY_RUN = "notify_run"
APPLY_RETENTION = "apply_retention"
LIST_RUNS = "list_runs"
GET_RUN = "get_run"
PURGE_RUN = "purge_run"
GET_RUN_REPORT = "get_run_report"
CANCEL_RUN = "cancel_run"
SUSPEND_RUN = "suspend_run"
RESUME_RUN = "resume_run"
GET_STATS = "get_stats"
LIST_SOURCES = "list_sources"
GET_SOURCE = "get_source"
RESET_SOURCE = "reset_source"
HEALTH = "health"
OPENAPI = "openapi"


def source_instance_id(run_id: str, source_id: str) -> str:
    """The instance id of a run's source orchestration: the one place it is built (the run orchestrator
    starts it; cancel, suspend, resume, purge, the live view and the report find it)."""
    return f"{run_id}:{source_id}"


# Lane instance ids carry a '.', which no source id may hold: they never collide with a source's.
def source_lane_id(run_id: str, lane: int) -> str:
    """The instance id of lane ``lane`` of a run's sources."""
    return f"{run_id}:lane.{lane}"


def batch_lane_id(run_id: str, source_id: str, page: int, lane: int) -> str:
    """The instance id of lane ``lane`` of one page's batches (a new one each page)."""
    return f"{source_instance_id(run_id, source_id)}:p{page}.{lane}"


def compact_lane_id(job_id: str, lane: int) -> str:
    return f"{job_id}:lane.{lane}"

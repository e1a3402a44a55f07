"""Names of every Durable function, in one place.

Orchestrators call activities and sub-orchestrators by these constants; the blueprints register
functions under them. Renaming a function is a one-line change here.
"""

RUN_ORCHESTRATOR = "run_orchestrator"
SOURCE_ORCHESTRATOR = "source_orchestrator"

LOAD_SOURCES = "load_sources"
OPEN_RUN = "open_run"
CLOSE_RUN = "close_run"
BEGIN_SOURCE = "begin_source"
DISCOVER = "discover"
FETCH = "fetch"
CHUNK = "chunk"
EMBED = "embed"
COMMIT = "commit"
FINISH_SOURCE = "finish_source"

DAILY_TIMER = "daily_timer"
START_RUN = "start_run"
CHECKPOINT = "checkpoint"

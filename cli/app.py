"""The ``harvest`` command. Each command lives in ``cli/commands/`` and registers itself here.

``harvest run`` starts the local host in this process (on a free port), POSTs ``/api/runs`` to it —
the same starter and orchestrators Azure runs — follows the status-query URL, and prints a summary.
Exit status: 0 completed, 1 failed, 3 partial, 2 bad input (settings, manifest, request).
"""

from __future__ import annotations

import typer

from cli.commands import (
    control,
    corpus,
    index,
    insight,
    maintenance,
    report,
    resume,
    retire,
    run,
    runs,
    serve,
    sources,
    status,
    verify,
)

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Harvest: keep a search corpus fresh.")

for command in (run, resume, control, serve, status, corpus, maintenance, runs, report, sources, retire, verify,
                insight, index):
    command.register(app)


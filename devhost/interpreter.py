"""App settings that the Python interpreter reads only when it starts: the memory allocator.

In Azure, app settings are environment variables of the host, and the host starts the Python worker process
with that environment (its ``startInfo.EnvironmentVariables``, where it also reads the worker's
``PYTHON_THREADPOOL_THREAD_COUNT``: azure-functions-host PR #7671); ``func start`` does the same with
``local.settings.json`` ``Values``. So ``PYTHONMALLOC`` and mimalloc's ``MIMALLOC_*`` options set as app
settings apply to the worker from its first allocation. The local host runs the app inside the ``harvest``
process, which has already started by the time it reads ``local.settings.json``: ``restart_with`` re-executes
the command (same PID, same arguments) with those settings in its environment, once, before anything else
runs — only from the ``harvest`` entry point, never inside another process that imports the CLI (tests).

A ``PYTHONMALLOC`` this Python cannot honour (``mimalloc`` on a build without it, e.g. before 3.13) would stop
Azure's worker with "Fatal Python error"; here it is refused with a message naming the setting instead.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

from devhost.settings import load_local_settings

# What PYTHONMALLOC accepts (Python 3.13, "Command line and environment"); mimalloc only where it is built in.
ALLOCATORS = {"default", "malloc", "pymalloc", "mimalloc", "debug", "malloc_debug", "pymalloc_debug",
              "mimalloc_debug"}


class StartSettingError(Exception):
    """An interpreter-start setting this Python cannot apply (the message names it and where it came from)."""


def is_start_setting(name: str) -> bool:
    return name == "PYTHONMALLOC" or name.startswith("MIMALLOC_")


def start_settings(values: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The interpreter-start settings among ``values`` that this process's environment does not already hold.

    ``StartSettingError`` for a ``PYTHONMALLOC`` value Python does not know, or mimalloc on a build without it.
    """
    wanted = {name: value for name, value in values.items() if is_start_setting(name)}
    allocator = wanted.get("PYTHONMALLOC")
    if allocator is not None:
        if allocator not in ALLOCATORS:
            raise StartSettingError(f"PYTHONMALLOC={allocator!r} is not an allocator Python knows "
                                    f"({', '.join(sorted(ALLOCATORS))})")
        if allocator.startswith("mimalloc") and not sysconfig.get_config_var("WITH_MIMALLOC"):
            raise StartSettingError(
                f"PYTHONMALLOC={allocator} but this Python ({sys.version.split()[0]}, {sys.executable}) was built "
                "without mimalloc: Azure's worker would not start with it either; use Python 3.13 or remove the "
                "setting")
    return {name: value for name, value in wanted.items() if environ.get(name) != value}


def restart_with(repo_root: Path) -> None:
    """Re-execute this command with the interpreter-start settings of ``local.settings.json`` (the
    environment wins, as everywhere) when its environment lacks them; return when nothing is missing."""
    missing = start_settings(load_local_settings(repo_root), os.environ)
    if not missing or os.name == "nt":  # Windows has no exec (a new process): set them in the environment there
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], {**os.environ, **missing})

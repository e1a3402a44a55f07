"""The ``harvest`` console script: apply the interpreter-start settings (``devhost.interpreter``) before the
commands are imported, so a re-exec costs one bare interpreter start, then run ``cli.app``."""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    from devhost.interpreter import StartSettingError, restart_with

    try:
        restart_with(Path(__file__).resolve().parent.parent)  # the repository: local.settings.json
    except StartSettingError as exc:
        print(f"harvest: {exc} (local.settings.json or the environment)", file=sys.stderr)
        raise SystemExit(2) from None
    from cli.app import app

    app()


if __name__ == "__main__":
    main()

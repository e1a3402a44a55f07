"""`harvest sources validate [FILE]` and `harvest sources list`: check and show the source manifest.

Neither needs storage: they read local.settings.json (the environment wins) only to find the manifest
and to say whether the app settings a source names (its secrets, by name) are set — never their values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.commands.common import err, fail, out

app = typer.Typer(no_args_is_help=True, help="Check and show the source manifest (sources.yaml).")


def _manifest_path(file: Path | None) -> Path:
    from devhost.settings import apply_local_settings
    from shared.settings import REPO_ROOT

    apply_local_settings(REPO_ROOT)
    if file is not None:
        return file
    path = Path(os.environ.get("HARVEST_MANIFEST", "sources.yaml"))
    return path if path.is_absolute() else REPO_ROOT / path


def _load(file: Path | None, *, build: bool = False) -> tuple[Path, list[dict[str, Any]]]:
    from shared.config.manifest import describe_sources, load_manifest
    from shared.errors import ConfigError

    path = _manifest_path(file)
    try:
        return path, describe_sources(load_manifest(path, check_build=build))
    except ConfigError as exc:
        raise manifest_problems(path, exc) from None


def manifest_problems(path: Path | str, exc: Exception) -> typer.Exit:
    """Every problem of a manifest, one line each under a count (exit 2); a problem with the file itself
    (not YAML, not a regular file, too big) is one line."""
    problems = getattr(exc, "problems", None) or []
    if not problems or all(p["field"] == "manifest" for p in problems):
        return fail(str(exc).splitlines()[0])
    err.print(f"[red]{escape(str(path))}: {len(problems)} problem(s)[/red]", highlight=False)
    for problem in problems:
        err.print(f"  {problem['field']}: {problem['message']}", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(2)


@app.command("validate")
def validate(file: Annotated[Path | None, typer.Argument(help="The manifest (default: HARVEST_MANIFEST).")] = None,
             as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Validate the manifest: every problem with its source and field (exit 2), and unset app settings."""
    path, sources = _load(file, build=True)
    missing = [(s["id"], name) for s in sources for name, present in s["settings"].items() if not present]
    if as_json:
        print(json.dumps({"manifest": str(path), "sources": sources,
                          "missing_settings": [{"source": s, "setting": n} for s, n in missing]}, indent=2))
        return
    enabled = sum(1 for s in sources if s.get("enabled", True))
    err.print(f"{path}: {len(sources)} source(s), {enabled} enabled: valid", highlight=False)
    for source_id, name in missing:
        err.print(f"  [yellow]warning[/yellow]: {source_id}: app setting {name} is not set here "
                  "(it must be set where the app runs)", highlight=False)


@app.command("list")
def list_sources(file: Annotated[Path | None, typer.Argument(help="The manifest (default: HARVEST_MANIFEST).")] = None,
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The configured sources, with the app settings each one needs (set or not; never their values)."""
    _, sources = _load(file)
    if as_json:
        print(json.dumps(sources, indent=2))
        return
    table = Table("id", "kind", "enabled", "where", "settings")
    for s in sources:
        where = s.get("url") or s.get("path") or f"{s.get('container', '')}/{s.get('prefix', '')}"
        settings = ", ".join(f"{n}{'' if ok else ' (unset)'}" for n, ok in s["settings"].items())
        table.add_row(s["id"], s["kind"], "yes" if s.get("enabled", True) else "no", str(where), settings)
    out.print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sources")

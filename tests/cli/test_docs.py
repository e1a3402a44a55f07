"""Every command is documented (issue 23 item 7): each `harvest` command and sub-command appears as
`harvest <name>` in the README or a page of docs/; the README stays within 16 KB and starts with the two
commands a new user runs."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.app import app

ROOT = Path(__file__).resolve().parents[2]


def commands(group: typer.Typer, prefix: str = "harvest") -> list[str]:
    found = [f"{prefix} {c.name or (c.callback.__name__ if c.callback else '')}" for c in group.registered_commands]
    for sub in group.registered_groups:
        assert sub.typer_instance is not None and sub.name
        found += commands(sub.typer_instance, f"{prefix} {sub.name}")
    return found


def test_every_command_is_documented() -> None:
    text = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
    listed = commands(app)
    assert "harvest cancel" in listed and "harvest sources retire" in listed and "harvest verify" in listed
    missing = [name for name in listed if f"`{name}" not in text]
    assert not missing, f"not documented in README.md or docs/: {missing}"


def test_the_readme_is_short_and_leads_with_the_newcomer_path() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 16 * 1024, f"README is {len(readme.encode())} bytes"
    head = readme[:700]
    assert "make run" in head and "make test" in head

"""Reads the manifest at import time (what app modules must not do)."""

from pathlib import Path

MANIFEST = (Path(__file__).resolve().parents[3] / "sources.yaml").read_text()

"""Writes a file at import time (the audit hook blocks it before the file is created)."""

import tempfile
from pathlib import Path

Path(tempfile.gettempdir(), "harvest-import-control.txt").write_text("written at import")

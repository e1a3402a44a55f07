"""PDF extraction from many threads at once must not crash the process (PDFium is not thread-safe)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples" / "docs"

SCRIPT = """
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from shared.text.extract import extract
pdfs = [p.read_bytes() for p in sorted(Path(sys.argv[1]).glob("*.pdf"))] * 6
with ThreadPoolExecutor(8) as pool:
    texts = list(pool.map(lambda d: extract(d, fmt="pdf").text, pdfs))
assert all(len(t) > 500 for t in texts), [len(t) for t in texts]
print(len(texts))
"""


def test_concurrent_pdf_extraction_in_threads_is_safe() -> None:
    # In a subprocess: heap corruption would otherwise abort the whole test session.
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(SAMPLES)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(len(list(SAMPLES.glob("*.pdf"))) * 6)

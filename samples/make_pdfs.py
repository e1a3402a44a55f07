#!/usr/bin/env python3
"""Regenerate the sample PDFs in samples/docs/ from samples/pdf_sources/*.md.

Requires fpdf2 (https://py-pdf.github.io/fpdf2/). Install it in a throwaway
virtualenv rather than the project environment, for example:

    python3 -m venv /tmp/pdfvenv
    /tmp/pdfvenv/bin/pip install fpdf2
    /tmp/pdfvenv/bin/python samples/make_pdfs.py

The source format is a small subset of Markdown: one "# Title" line,
"## Section" headings, "- " bullet items and plain paragraphs separated by
blank lines. Inline *emphasis* markers are stripped. The PDFs use the core
Helvetica font, so all text is converted to Latin-1-safe characters first.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

HERE = Path(__file__).resolve().parent
SRC_DIR = HERE / "pdf_sources"
OUT_DIR = HERE / "docs"

# Fixed creation date so that regenerating produces stable metadata.
CREATION_DATE = datetime(2024, 3, 1, tzinfo=UTC)

REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": " - ",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u2032": "'",
    "\u2033": '"',
    "\u2022": "-",
}


def latin1_safe(text: str) -> str:
    """Map typographic characters to ASCII and drop anything not in Latin-1."""
    for src, dst in REPLACEMENTS.items():
        text = text.replace(src, dst)
    out = []
    for ch in text:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            # Strip accents where possible (e.g. a macron), else drop.
            decomposed = unicodedata.normalize("NFKD", ch)
            out.append("".join(c for c in decomposed if ord(c) < 256))
    return "".join(out)


def strip_inline(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"\*(.+?)\*", r"\1", text)
    text = re.sub(r"`(.+?)`", r"\1", text)
    return latin1_safe(text)


def parse(md: str) -> list[tuple[str, str]]:
    """Split the source into (kind, text) blocks: title, h2, bullet, para."""
    blocks: list[tuple[str, str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(("para", " ".join(para)))
            para.clear()

    for raw in md.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            blocks.append(("h2", line[3:]))
        elif line.startswith("# "):
            flush()
            blocks.append(("title", line[2:]))
        elif line.startswith("- "):
            flush()
            blocks.append(("bullet", line[2:]))
        else:
            para.append(line)
    flush()
    return [(kind, strip_inline(text)) for kind, text in blocks]


class SamplePDF(FPDF):
    doc_title = ""

    def header(self):
        if self.page_no() > 1:
            self.set_font("Helvetica", "I", 8)
            self.set_text_color(120)
            self.cell(0, 6, self.doc_title, align="R")
            self.ln(10)
            self.set_text_color(0)

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(120)
        self.cell(0, 10, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0)


def build(src: Path, out: Path) -> int:
    blocks = parse(src.read_text(encoding="utf-8"))
    title = next((t for k, t in blocks if k == "title"), src.stem)

    pdf = SamplePDF(format="A4")
    pdf.doc_title = title
    pdf.set_title(title)
    pdf.set_author("Harvest sample corpus")
    pdf.set_subject("Sample document (CC0)")
    pdf.set_creator("samples/make_pdfs.py")
    pdf.set_creation_date(CREATION_DATE)
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()

    for kind, text in blocks:
        if kind == "title":
            pdf.set_font("Helvetica", "B", 20)
            pdf.multi_cell(0, 9, text, align="L")
            pdf.ln(6)
        elif kind == "h2":
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 13)
            pdf.multi_cell(0, 7, text, align="L")
            pdf.ln(2)
        elif kind == "bullet":
            pdf.set_font("Helvetica", "", 11)
            x = pdf.get_x()
            pdf.cell(6, 6, "-")
            pdf.multi_cell(0, 6, text, align="L")
            pdf.set_x(x)
            pdf.ln(1)
        else:
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, text, align="L")
            pdf.ln(3)

    pdf.output(str(out))
    return pdf.pages_count


def main() -> int:
    sources = sorted(SRC_DIR.glob("*.md"))
    if not sources:
        print(f"no sources found in {SRC_DIR}", file=sys.stderr)
        return 1
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for src in sources:
        out = OUT_DIR / f"{src.stem}.pdf"
        pages = build(src, out)
        print(f"{out.relative_to(HERE.parent)}: {pages} page(s), {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

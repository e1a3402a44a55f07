"""Extraction of real bytes: markdown, text, HTML (boilerplate removed), PDF (generated here)."""

from __future__ import annotations

import pytest

from shared.errors import PermanentError
from shared.text.extract import content_hash, detect_format, extract, normalize_text
from tests.shared.pdfgen import make_pdf

ARTICLE = """<!doctype html><html><head><meta charset="utf-8"><title>Composting at home | Garden Blog</title></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li><li><a href="/shop">Shop</a></li></ul></nav>
<main><article>
<h1>Composting at home</h1>
<p>Composting turns kitchen scraps and garden waste into a dark, crumbly soil improver. A good heap needs
a balance of green material, rich in nitrogen, and brown material, rich in carbon, plus air and moisture.</p>
<h2>Getting started</h2>
<p>Choose a shady spot with good drainage. Start with a layer of twigs, then alternate greens and browns,
turning the heap every few weeks so that the microbes doing the work get enough oxygen.</p>
</article></main>
<footer><p>Copyright 2024 Garden Blog. All rights reserved. Subscribe to our newsletter.</p></footer>
</body></html>"""


@pytest.mark.parametrize(
    ("name", "ctype", "expected"),
    [
        ("a/b.md", None, "markdown"),
        ("x.MARKDOWN", None, "markdown"),
        ("notes.txt", None, "text"),
        ("https://x.test/page.htm?q=1", None, "html"),
        ("doc.pdf", "application/octet-stream", "pdf"),
        ("https://x.test/feed", "text/html; charset=utf-8", "html"),
        ("https://x.test/raw/readme.md", "text/plain; charset=utf-8", "markdown"),
        ("https://x.test/file", "application/pdf", "pdf"),
        ("file.html", "text/markdown", "markdown"),
    ],
)
def test_detect_format(name: str, ctype: str | None, expected: str) -> None:
    assert detect_format(name, ctype) == expected


@pytest.mark.parametrize(("name", "ctype"), [("a.docx", None), ("x", None), ("a.html", "image/png")])
def test_detect_format_unsupported(name: str, ctype: str | None) -> None:
    with pytest.raises(PermanentError, match="unsupported content type"):
        detect_format(name, ctype)


def test_normalize() -> None:
    raw = "Cafe\u0301  \r\nline two\t\r\n\r\n\r\n\r\n\r\n\r\nend   "
    assert normalize_text(raw) == "Caf\u00e9\nline two\n\n\nend"
    assert normalize_text(normalize_text(raw)) == normalize_text(raw)
    assert content_hash(raw) == content_hash("Caf\u00e9\nline two\n\n\nend")
    assert len(content_hash("x")) == 64


def test_markdown_title_and_text() -> None:
    data = b"```\n# not a title\n```\n\n# Real Title\r\n\r\nBody text.  \n"
    out = extract(data, fmt="markdown")
    assert out.title == "Real Title"
    assert out.text == "```\n# not a title\n```\n\n# Real Title\n\nBody text."
    assert out.format == "markdown"
    assert extract(b"no heading here", fmt="markdown").title is None


def test_text_encodings() -> None:
    assert extract("caf\u00e9 ol\u00e9".encode("utf-16"), fmt="text").text == "caf\u00e9 ol\u00e9"
    assert extract(b"\xef\xbb\xbfbom text", fmt="text").text == "bom text"
    latin = "d\u00e9j\u00e0 vu, na\u00efve fa\u00e7ade, cr\u00e8me br\u00fbl\u00e9e".encode("latin-1")
    assert extract(latin, fmt="text").text == "d\u00e9j\u00e0 vu, na\u00efve fa\u00e7ade, cr\u00e8me br\u00fbl\u00e9e"
    assert extract(latin, fmt="text", content_type="text/plain; charset=iso-8859-1").text.startswith("d\u00e9j\u00e0")


def test_html_main_content_without_boilerplate() -> None:
    out = extract(ARTICLE.encode(), fmt="html", url="https://garden.test/compost")
    assert out.format == "html"
    assert out.title and "Composting at home" in out.title
    assert "crumbly soil improver" in out.text and "enough oxygen" in out.text
    assert "Getting started" in out.text
    for junk in ("About us", "Shop", "Copyright", "newsletter"):
        assert junk not in out.text


def test_html_fallback_to_body_text() -> None:
    out = extract(
        b"<html><head><title>Tiny</title><script>var x = 1;</script></head><body><p>Short note.</p></body></html>",
        fmt="html",
    )
    assert out.text == "Short note."
    assert out.title == "Tiny"


def test_pdf_all_pages() -> None:
    data = make_pdf([["Hello from page one.", "Second line."], ["Page two says (hi)."]], title="Test PDF")
    out = extract(data, fmt="pdf")
    assert out.title == "Test PDF"
    assert out.text == "Hello from page one.\nSecond line.\n\nPage two says (hi)."


def test_corrupt_pdf_is_permanent() -> None:
    with pytest.raises(PermanentError, match="PDF"):
        extract(b"%PDF-1.4\nthis is not really a pdf", fmt="pdf")


@pytest.mark.parametrize(("data", "fmt"), [(b"  \n\n ", "text"), (b"", "markdown"), (b"<html></html>", "html")])
def test_empty_is_permanent(data: bytes, fmt: str) -> None:
    with pytest.raises(PermanentError, match="no text extracted"):
        extract(data, fmt=fmt)


def test_unknown_format() -> None:
    with pytest.raises(PermanentError):
        extract(b"x", fmt="docx")


def test_plain_text_gets_its_first_line_or_file_name_as_title() -> None:
    """Issue 12: `.txt` documents had an empty title."""
    body = "\n\n  Tide tables for May  \nHigh water at 06:12 and 18:40, low water at 00:05 and 12:20.\n"
    assert extract(body.encode(), fmt="text", url="file:///d/tides.txt").title == "Tide tables for May"
    long_line = "word " * 60 + "\nsecond line"
    assert extract(long_line.encode(), fmt="text", url="file:///d/long%20notes.txt").title == "long notes"
    assert extract(long_line.encode(), fmt="text").title is None

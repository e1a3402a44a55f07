"""Text extraction: bytes of a document → normalised text + title.

HTML goes through trafilatura (main content only, rendered as markdown so headings survive for the
markdown-aware chunker), with a selectolax body-text fallback for pages trafilatura finds nothing in.
PDF goes through pypdfium2. Markdown and plain text are decoded and normalised. The normalised text is
what the document checksum (``content_hash``) is computed over, so normalisation must stay stable:
changing it marks every document as changed.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.errors import PermanentError, SkippedError
from shared.text.html_depth import TooDeep, nesting_depth

FORMATS = ("markdown", "text", "html", "pdf")

_CONTENT_TYPES = {
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
}
# Content types that say nothing about the format: the extension decides.
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}
_EXTENSIONS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRAILING_WS = re.compile(r"[ \t\u00a0]+$", re.MULTILINE)
_MANY_BLANKS = re.compile(r"\n{4,}")  # 3+ blank lines
_ATX_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class ExtractLimits:
    """What one document may cost to extract (settings ``HARVEST_EXTRACT_*``); past a limit the document
    fails permanently with the reason. ``timeout_s`` is enforced by the caller (``shared.pipeline.fetch``)."""

    max_bytes: int = 20_000_000
    max_depth: int = 1000
    timeout_s: float = 60.0


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str
    format: str  # "markdown" | "text" | "html" | "pdf"


def _extension(name_or_url: str) -> str:
    path = urlsplit(name_or_url).path if "://" in name_or_url else name_or_url
    return PurePosixPath(unquote(path)).suffix.lower()


def detect_format(name_or_url: str, content_type: str | None) -> str:
    """The document format, by content type first, then by extension.

    A generic content type (``application/octet-stream``) defers to the extension, and so does
    ``text/plain`` when the extension says markdown (raw-file hosts serve ``.md`` as ``text/plain``).
    """
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    by_ext = _EXTENSIONS.get(_extension(name_or_url))
    if ctype in _CONTENT_TYPES:
        fmt = _CONTENT_TYPES[ctype]
        if fmt == "text" and by_ext == "markdown":
            return "markdown"
        return fmt
    if ctype in _GENERIC_TYPES and by_ext:
        return by_ext
    if not ctype and not by_ext:
        raise PermanentError(f"unsupported content type (none) for {name_or_url}")
    raise PermanentError(f"unsupported content type {ctype or '(none)'} for {name_or_url}")


def normalize_text(text: str) -> str:
    """NFC, ``\\n`` line ends, no control characters or trailing spaces, at most 2 blank lines in a row."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = _CONTROL.sub("", text)
    text = _TRAILING_WS.sub("", text)
    text = _MANY_BLANKS.sub("\n\n\n", text)
    return text.strip("\n").strip()


def content_hash(text: str) -> str:
    """SHA-256 hex of the normalised text: the document checksum."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def _charset_of(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def decode_bytes(data: bytes, *, content_type: str | None = None, html: bool = False) -> str:
    """Decode respecting (in order) a BOM, the content type's charset, an HTML ``<meta charset>``,
    strict UTF-8, then Windows-1252, then latin-1 (which never fails).

    No statistical charset guessing: charset-normalizer, tried here, turned Western European text
    (latin-1, even 2 KB of it) into Baltic/Central European code pages. Undeclared legacy text on the
    web is overwhelmingly Windows-1252, and a predictable wrong guess beats an unpredictable one."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    candidates: list[str] = []
    declared = _charset_of(content_type)
    if declared:
        candidates.append(declared)
    if html:
        match = _META_CHARSET.search(data[:4096])
        if match:
            candidates.append(match.group(1).decode("ascii", "ignore"))
    candidates.append("utf-8")
    for encoding in candidates:
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        pass
    return data.decode("latin-1")


def _markdown_title(text: str) -> str | None:
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            match = _ATX_H1.match(line)
            if match:
                return match.group(1).strip() or None
    return None


def _html(data: bytes, content_type: str | None, url: str | None, max_depth: int) -> tuple[str | None, str]:
    """trafilatura first; the Lexbor parse only when trafilatura found no title or no text (it was built
    for every page before, and Lexbor is quadratic in nesting depth). The page is parsed once: the tree
    goes to both the title and the text extraction."""
    import trafilatura
    from selectolax.lexbor import LexborHTMLParser
    from trafilatura.utils import load_html

    html = decode_bytes(data, content_type=content_type, html=True)
    try:
        nesting_depth(html, limit=max_depth)
    except TooDeep as exc:
        raise PermanentError(str(exc)) from None
    tree = load_html(html)
    title = _title(tree) if tree is not None else None
    text = trafilatura.extract(
        tree if tree is not None else html,
        url=url,
        output_format="markdown",
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
        deduplicate=False,
    )
    if title and text and text.strip():
        return title, text
    lexbor = LexborHTMLParser(html)
    if not title:
        node = lexbor.css_first("title")
        title = node.text(strip=True) if node is not None else None
    if not text or not text.strip():
        for selector in ("script", "style", "noscript", "template"):
            for node in lexbor.css(selector):
                node.decompose()
        body = lexbor.body or lexbor.root
        text = body.text(separator="\n", strip=True) if body is not None else ""
    return (title or None), text or ""


def _title(tree: Any) -> str | None:
    """The title ``trafilatura.extract_metadata`` finds (meta tags, then JSON-LD, then ``<title>``/``<h1>``),
    without the rest of its work: it also dates the page with htmldate (dateparser: 7 ms a page and ~22 MiB
    of locale patterns, measured on the bench corpus) and looks for authors, site name, tags and license —
    none of which Harvest keeps. Same precedence and the same clean-up as that function (trafilatura 2.3)."""
    from trafilatura.metadata import examine_meta, extract_meta_json, extract_title
    from trafilatura.settings import Document

    try:
        meta = examine_meta(tree)
        with contextlib.suppress(Exception):  # trafilatura guards its JSON-LD parser the same way
            meta = extract_meta_json(tree, meta)
        found = Document()
        found.title = meta.title or extract_title(tree)
        found.clean_and_trim()
        return found.title or None
    except Exception:  # metadata is best effort; the text is what matters
        return None


MAX_TEXT_TITLE = 120


def _text_title(text: str, url: str | None) -> str | None:
    """Plain text has no markup for a title: its first line when short enough, else the file's name."""
    first = text.split("\n", 1)[0].strip()
    if first and len(first) <= MAX_TEXT_TITLE:
        return first
    name = PurePosixPath(unquote(urlsplit(url).path)).stem if url else ""
    return name or None


_PDFIUM_LOCK = threading.Lock()


def _pdf(data: bytes) -> tuple[str | None, str]:
    """PDFium is not thread-safe (pypdfium2's documentation says so): extractions run in worker threads, so
    every call into it holds one process-wide lock. Concurrent PDF extraction crashed the host with
    ``double free or corruption`` before this lock."""
    with _PDFIUM_LOCK:
        return _pdf_locked(data)


def _pdf_locked(data: bytes) -> tuple[str | None, str]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PermanentError(f"unreadable PDF: {exc}") from None
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                pages.append(normalize_text(textpage.get_text_range()))
                textpage.close()
            finally:
                page.close()
        try:
            title = (pdf.get_metadata_dict().get("Title") or "").strip() or None
        except Exception:
            title = None
    except pdfium.PdfiumError as exc:
        raise PermanentError(f"unreadable PDF: {exc}") from None
    finally:
        pdf.close()
    return title, "\n\n".join(p for p in pages if p)


def extract(data: bytes, *, fmt: str, url: str | None = None, content_type: str | None = None,
            limits: ExtractLimits | None = None) -> Extracted:
    """Extract normalised text and a title. Raises ``PermanentError`` when nothing can be extracted or the
    document is past ``limits`` (size, HTML nesting depth).

    ``content_type`` (optional, an addition to the contract) supplies a charset for decoding.
    """
    limits = limits or ExtractLimits()
    if len(data) > limits.max_bytes:
        raise PermanentError(f"document larger than {limits.max_bytes} bytes ({len(data)} bytes)")
    if fmt == "html":
        title, text = _html(data, content_type, url, limits.max_depth)
    elif fmt == "pdf":
        title, text = _pdf(data)
    elif fmt == "markdown":
        text = decode_bytes(data, content_type=content_type)
        title = None
    elif fmt == "text":
        text, title = decode_bytes(data, content_type=content_type), None
    else:
        raise PermanentError(f"unsupported format {fmt!r}")
    text = normalize_text(text)
    if not text:
        raise SkippedError("no text extracted", reason="short")
    if fmt == "markdown":
        title = _markdown_title(text)
    elif fmt == "text":
        title = _text_title(text, url)
    if title:
        title = " ".join(unicodedata.normalize("NFC", title).split()) or None
    return Extracted(title=title, text=text, format=fmt)

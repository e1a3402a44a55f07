"""Credentials for HTTP sources: manifest specs, secret lookup, request signing and redaction.

Secrets never appear in the manifest. A spec names the *app setting* that holds each secret
(``token_setting: NEWS_API_TOKEN``); in Azure that setting may be a Key Vault reference, which the
platform resolves into the environment. ``inline_secret_problems`` rejects manifests that write a
secret inline (a ``token:`` key, a password in a URL, an ``api_key=`` query parameter), with the field.

``Authenticator`` turns a spec into headers or query parameters for one request. It never decides
*where* credentials go: ``shared.sources.web`` adds them only to requests for the source's own origin,
per redirect hop. Every secret value it reads (and every token it obtains) is remembered in
``secrets`` so error messages can be ``redact``-ed before they reach logs or run records.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import time
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.errors import ConfigError, PermanentError

SETTING = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_KEYS = frozenset({
    "token", "access_token", "bearer", "password", "passwd", "secret", "client_secret", "api_key", "apikey",
    "key", "connection_string", "sas", "sas_token", "credentials",
})
SECRET_PARAMS = SECRET_KEYS | {"sig", "signature", "auth", "code"}
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
TOKEN_MARGIN = 60.0  # seconds before expiry at which an OAuth2 token is renewed


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoAuth(_Auth):
    type: Literal["none"]


class ApiKeyAuth(_Auth):
    """An API key sent in a header (default ``X-API-Key``) or a query parameter."""

    type: Literal["api_key"]
    key_setting: str = Field(pattern=SETTING)
    header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]+$")
    query_param: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")

    @model_validator(mode="after")
    def _one_place(self) -> ApiKeyAuth:
        if self.header and self.query_param:
            raise ValueError("set header or query_param, not both")
        if not self.query_param and not self.header:
            self.header = "X-API-Key"
        return self


class BearerAuth(_Auth):
    type: Literal["bearer"]
    token_setting: str = Field(pattern=SETTING)


class BasicAuth(_Auth):
    type: Literal["basic"]
    username: str | None = None
    username_setting: str | None = Field(default=None, pattern=SETTING)
    password_setting: str = Field(pattern=SETTING)

    @model_validator(mode="after")
    def _one_username(self) -> BasicAuth:
        if (self.username is None) == (self.username_setting is None):
            raise ValueError("set exactly one of username and username_setting")
        return self


class OAuth2ClientCredentials(_Auth):
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4); the token is cached until shortly before expiry."""

    type: Literal["oauth2_client_credentials"]
    token_url: str = Field(pattern=r"^https?://\S+$")
    client_id: str | None = None
    client_id_setting: str | None = Field(default=None, pattern=SETTING)
    client_secret_setting: str = Field(pattern=SETTING)
    scope: str | None = None
    audience: str | None = None
    client_auth: Literal["body", "basic"] = Field(
        default="body", description="Send the client credentials in the form body or as HTTP Basic."
    )

    @model_validator(mode="after")
    def _one_client_id(self) -> OAuth2ClientCredentials:
        if (self.client_id is None) == (self.client_id_setting is None):
            raise ValueError("set exactly one of client_id and client_id_setting")
        return self


AuthSpec = Annotated[
    NoAuth | ApiKeyAuth | BearerAuth | BasicAuth | OAuth2ClientCredentials, Field(discriminator="type")
]


def setting_names(spec: Any) -> list[str]:
    """The app settings a spec (auth or source) refers to, by name: fields ending in ``_setting``."""
    data = spec.model_dump() if isinstance(spec, BaseModel) else spec
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("_setting") and isinstance(value, str):
                found.append(value)
            elif isinstance(value, dict | list):
                found += setting_names(value)
    elif isinstance(data, list):
        for value in data:
            found += setting_names(value)
    return found


def inline_secret_problems(entry: Any, label: str) -> list[dict[str, str]]:
    """Field-level problems for secrets written inline anywhere in one manifest entry."""
    problems: list[dict[str, str]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                where = f"{path}.{key}"
                if isinstance(key, str) and key.lower() in SECRET_KEYS and inner not in (None, ""):
                    problems.append({"field": where, "message": (
                        "secrets may not be written in the manifest: put the value in an app setting "
                        f"and name that setting with '{key}_setting' (or the kind's *_setting field)")})
                else:
                    walk(inner, where)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(inner, f"{path}[{index}]")
        elif isinstance(value, str) and _URL.match(value):
            message = _url_secret(value)
            if message:
                problems.append({"field": path, "message": message})

    walk(entry, label)
    return problems


def _url_secret(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.password is not None:
        return "URLs may not carry a password; use auth with a *_setting"
    names = [name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if any(name in SECRET_PARAMS for name in names):
        return "URLs may not carry credentials in the query; use auth: {type: api_key, query_param: ...}"
    return None


def read_setting(name: str, *, field: str = "auth") -> str:
    """The value of app setting ``name``; ``ConfigError`` naming the setting (never its value) if unset."""
    value = os.environ.get(name)
    if not value:
        raise ConfigError("missing secret", [{"field": field, "message": f"app setting {name} is not set"}])
    return value


def with_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode([*query, (name, value)])))


class Authenticator:
    """Signs requests for one source. ``http`` (a ``shared.fetching.http.HttpClient``) is used for token requests."""

    def __init__(self, spec: Any, *, source_id: str) -> None:
        self.spec = spec
        self.field = f"sources.{source_id}.auth"
        self.secrets: set[str] = set()
        self._token: tuple[str, float] | None = None  # (access token, expires at monotonic time)
        self._lock = asyncio.Lock()

    def _secret(self, name: str) -> str:
        value = read_setting(name, field=self.field)
        self.secrets.add(value)
        return value

    async def sign(self, url: str, http: Any) -> tuple[str, dict[str, str]]:
        """``(url, headers)`` carrying the credentials for one request."""
        spec = self.spec
        if spec is None or isinstance(spec, NoAuth):
            return url, {}
        if isinstance(spec, ApiKeyAuth):
            key = self._secret(spec.key_setting)
            if spec.query_param:
                return with_query(url, spec.query_param, key), {}
            return url, {spec.header or "X-API-Key": key}
        if isinstance(spec, BearerAuth):
            return url, {"Authorization": f"Bearer {self._secret(spec.token_setting)}"}
        if isinstance(spec, BasicAuth):
            user = spec.username if spec.username is not None else self._secret(spec.username_setting or "")
            return url, {"Authorization": _basic(user, self._secret(spec.password_setting), self.secrets)}
        return url, {"Authorization": f"Bearer {await self._oauth_token(http)}"}

    def invalidate(self) -> None:
        """Forget a cached OAuth2 token (after a 401), so the next request obtains a new one."""
        self._token = None

    async def _oauth_token(self, http: Any) -> str:
        spec: OAuth2ClientCredentials = self.spec
        async with self._lock:
            if self._token and self._token[1] > time.monotonic():
                return self._token[0]
            client_id = spec.client_id if spec.client_id is not None else self._secret(spec.client_id_setting or "")
            secret = self._secret(spec.client_secret_setting)
            form = {"grant_type": "client_credentials"}
            form.update({k: v for k, v in (("scope", spec.scope), ("audience", spec.audience)) if v})
            headers = {"Accept": "application/json"}
            if spec.client_auth == "basic":
                headers["Authorization"] = _basic(client_id, secret, self.secrets)
            else:
                form.update(client_id=client_id, client_secret=secret)
            resp = await http.get(spec.token_url, method="POST", data=form, headers=headers,
                                  max_bytes=65536)
            try:
                body = json.loads(resp.body)
                token = str(body["access_token"])
                lifetime = float(body.get("expires_in") or 3600)
            except (ValueError, KeyError, TypeError):
                raise PermanentError(f"token endpoint {spec.token_url} returned no access_token") from None
            self.secrets.add(token)
            self._token = (token, time.monotonic() + max(lifetime - TOKEN_MARGIN, lifetime / 2))
            return token


def _basic(user: str, password: str, secrets: set[str]) -> str:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    secrets.add(encoded)
    return f"Basic {encoded}"

"""Function access keys, checked as the Functions host checks them — when keys are configured.

Azure: an ``anonymous`` route needs no key; ``function`` needs a function key, a host key or the master key;
``admin`` needs the master key; the Durable webhook API (``/runtime/webhooks/durabletask``) needs the
extension's system key (or the master key). A key is presented as the ``code`` query parameter or the
``x-functions-key`` header; a missing or wrong key is answered ``401`` with an empty body
(learn.microsoft.com/azure/azure-functions/function-keys-how-to, "Authorization scopes").

``func start`` skips every check locally. devhost does the same unless keys are configured
(``HARVEST_DEVHOST_MASTER_KEY``, ``HARVEST_DEVHOST_FUNCTION_KEYS`` comma-separated), so a test can hold the
app to Azure's rules. The Durable system key is random per host unless ``HARVEST_DEVHOST_SYSTEM_KEY`` names it
(in Azure it is the host's ``durabletask_extension`` system key).
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass, field

from aiohttp import web

ANONYMOUS, FUNCTION, ADMIN, SYSTEM = "anonymous", "function", "admin", "system"


@dataclass(frozen=True)
class HostKeys:
    master: str | None = None
    function: tuple[str, ...] = ()
    system: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def enabled(self) -> bool:
        return self.master is not None or bool(self.function)

    @classmethod
    def from_env(cls) -> HostKeys:
        master = os.environ.get("HARVEST_DEVHOST_MASTER_KEY") or None
        function = tuple(k.strip() for k in os.environ.get("HARVEST_DEVHOST_FUNCTION_KEYS", "").split(",") if k.strip())
        system = os.environ.get("HARVEST_DEVHOST_SYSTEM_KEY") or None
        return cls(master=master, function=function) if system is None else cls(master, function, system)

    def allows(self, level: str, request: web.Request) -> bool:
        """Whether ``request`` carries a key good enough for ``level``."""
        if not self.enabled or level == ANONYMOUS:
            return True
        presented = request.headers.get("x-functions-key") or request.query.get("code") or ""
        if not presented:
            return False
        accepted = [self.master] if self.master else []
        if level == FUNCTION:
            accepted += list(self.function)
        elif level == SYSTEM:
            accepted.append(self.system)
        given = _bytes(presented)
        return any(hmac.compare_digest(given, _bytes(key)) for key in accepted)

    def query(self) -> str:
        """What management links carry in Azure (``&code=<system key>``), when keys are on."""
        return f"&code={self.system}" if self.enabled else ""


def _bytes(key: str) -> bytes:
    """A key as bytes for ``hmac.compare_digest``, which refuses ``str`` holding non-ASCII characters (a
    ``TypeError``, that is a 500, for a key like ``clé``). ``surrogatepass`` maps every ``str`` to distinct bytes,
    so no two different keys compare equal (an undecodable header byte arrives as a lone surrogate)."""
    return key.encode("utf-8", "surrogatepass")


def unauthorized() -> web.Response:
    return web.Response(status=401)


def client_headers() -> dict[str, str]:
    """Headers for the CLI's own calls to a local host that checks keys (the master key opens every route)."""
    master = os.environ.get("HARVEST_DEVHOST_MASTER_KEY")
    return {"x-functions-key": master} if master else {}
